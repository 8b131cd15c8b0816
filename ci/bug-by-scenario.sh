#!/usr/bin/env bash
# Which general scenarios find a bug, and how often: runs seeds 0..N of
# every general-catalog scenario with the bug switched on and prints, per
# scenario, the failing runs and the rules they broke, then the total.
# A blind hunt's chance per seed is about the total divided by the runs.
# Usage: ci/bug-by-scenario.sh BUG [N=30] [FAULTLINE_BINARY]
set -euo pipefail
bug=${1:?usage: ci/bug-by-scenario.sh BUG [N] [FAULTLINE_BINARY]}
n=${2:-30}
bin=${3:-target/release/faultline}
total=0
runs=0
while read -r s _; do
  out=$("$bin" run --scenario "$s" --seeds "0..$n" --bug "$bug" --jobs "$(nproc)" 2>&1 || true)
  failed=$(grep -c ' verdict=fail ' <<< "$out" || true)
  rules=$(grep -o ' rules=[^ ]*' <<< "$out" | sort | uniq -c | awk '{printf "%s%s", sep, $0; sep=";"}' || true)
  printf '%-20s %3d/%d %s\n' "$s" "$failed" "$n" "$rules"
  total=$((total + failed))
  runs=$((runs + n))
done < <("$bin" list scenarios | grep -v -e '\[bug trigger\]' -e '\[benchmark\]')
echo "$bug: $total of $runs runs failed"
