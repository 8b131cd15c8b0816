#!/usr/bin/env bash
# The exploration benchmark's coverage half: `faultline explore` and
# `faultline soak` over the general catalog for the same time box, one core
# each, at the same time; then what each reached (coverage points and
# failpoints never reached, runs, failures), from `faultline report`.
# Usage: ci/explore-vs-soak.sh [FAULTLINE_BINARY] [OUT_DIR] [DURATION (default 10m)]
set -euo pipefail
bin=${1:-target/release/faultline}
out=${2:-target/explore-vs-soak}
duration=${3:-10m}
mkdir -p "$out"
rm -rf "$out/explore" "$out/soak"
mapfile -t general < <("$bin" list scenarios | grep -v '\[bug trigger\]\|\[benchmark\]' | awk '{print $1}')
args=()
for s in "${general[@]}"; do args+=(--scenario "$s"); done
"$bin" explore --out "$out/explore" --duration "$duration" --jobs 1 --quiet "${args[@]}" > "$out/explore.log" 2>&1 &
"$bin" soak --out "$out/soak" --duration "$duration" --jobs 1 --quiet "${args[@]}" > "$out/soak.log" 2>&1 &
wait
for mode in explore soak; do
  "$bin" report "$out/$mode" --out "$out/$mode.html" --markdown "$out/$mode.md" > /dev/null
  echo "== $mode: $(tail -1 "$out/$mode.log")"
  grep -E '^- (Runs|Failed|Undecided|Failpoints never|Coverage points never)' "$out/$mode.md"
done
