#!/usr/bin/env bash
# The no-bug campaign: the general catalog (every scenario `faultline list
# scenarios` does not mark as a bug trigger or a benchmark) with no bug
# switched on, seed after seed from 100000, then its dashboard. Any failure
# is a false alarm of the checker or a bug of the store: both need fixing.
# Usage: ci/no-bug-campaign.sh RUNS [OUT] [FAULTLINE_BINARY]
set -euo pipefail
runs=${1:?usage: ci/no-bug-campaign.sh RUNS [OUT] [FAULTLINE_BINARY]}
out=${2:-target/no-bug-campaign}
bin=${3:-target/release/faultline}
args=()
while read -r name _; do args+=(--scenario "$name"); done \
  < <("$bin" list scenarios | grep -v -e '\[bug trigger\]' -e '\[benchmark\]')
# A failed or undecided run makes soak exit non-zero: the dashboard is
# still written (that is when it is needed), and the script exits as soak did.
status=0
"$bin" soak --out "$out" --runs "$runs" --start-seed 100000 --jobs "$(nproc)" --quiet "${args[@]}" \
  || status=$?
"$bin" report "$out" --out "$out/dashboard.html" --markdown "$out/summary.md" --junit "$out/junit.xml"
grep -E 'Runs|failed|undecided|Failpoints|Fault kinds|Coverage points|Rules' "$out/summary.md" | head -20
exit "$status"
