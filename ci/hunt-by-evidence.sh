#!/usr/bin/env bash
# A blind hunt that stops only on the bug's own evidence: replays the seed
# order of `faultline hunt --blind` (seed START+i runs general scenario i
# mod n, as scenarios/src/hunt.rs does), one run at a time with BUG
# switched on, and stops at the first failing run whose output shows
# PATTERN (the bug's own failure, e.g. its member's exit message). Runs
# failing with OTHER (another mechanism the same switch enables) are
# counted, not stopped at; runs failing otherwise with an EXPECTED rule
# are printed. Prints the seeds tried and the wall time (one process per
# run, so slower per seed than the hunt itself).
# Usage: ci/hunt-by-evidence.sh BUG PATTERN OTHER EXPECTED_RULES_REGEX [START=0] [MAX_SEEDS=1500] [FAULTLINE_BINARY]
set -uo pipefail
bug=${1:?usage: ci/hunt-by-evidence.sh BUG PATTERN OTHER EXPECTED_RULES_REGEX [START] [MAX_SEEDS] [FAULTLINE_BINARY]}
pattern=${2:?PATTERN}
other=${3:?OTHER}
expected=${4:?EXPECTED_RULES_REGEX}
start=${5:-0}
max=${6:-1500}
bin=${7:-target/release/faultline}
mapfile -t general < <("$bin" list scenarios | grep -v -e '\[bug trigger\]' -e '\[benchmark\]' | awk '{print $1}')
n=${#general[@]}
t0=$(date +%s.%N)
others=0
for ((i = 0; i < max; i++)); do
  seed=$((start + i))
  scenario=${general[$((i % n))]}
  out=$("$bin" run --scenario "$scenario" --seeds "$seed..$((seed + 1))" --bug "$bug" --jobs 1 2>&1)
  grep -q ' verdict=fail ' <<< "$out" || continue
  rules=$(grep -o 'rules=[^ ]*' <<< "$out")
  wall=$(echo "$(date +%s.%N) - $t0" | bc)
  if grep -q -- "$pattern" <<< "$out"; then
    echo "$bug start=$start found after $((i + 1)) seeds, ${wall}s: $scenario seed $seed $rules (other-mechanism failures before: $others)"
    exit 0
  elif grep -q -- "$other" <<< "$out"; then
    others=$((others + 1))
  elif grep -q -E "rules=.*($expected)" <<< "$out"; then
    echo "  $scenario seed $seed failed with an expected rule but neither evidence: $rules"
  fi
done
echo "$bug start=$start not found in $max seeds, $(echo "$(date +%s.%N) - $t0" | bc)s (other-mechanism failures: $others)"
