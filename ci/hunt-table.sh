#!/usr/bin/env bash
# The hunt table (ci/hunt-table.csv): every bug the bug table says is
# reproduced, hunted from 5 start seeds with a 120 s budget each, once with
# its trigger scenarios, once blind (the general catalog only, seed after
# seed) and once through the explorer (the general catalog as `faultline
# explore` mutates it, the start seed its seed). Two hunt
# processes run at once, one per core, each with one job; the bugs are
# split between them so both finish at about the same time.
# Usage: ci/hunt-table.sh [FAULTLINE_BINARY] [OUT_CSV]
set -euo pipefail
bin=${1:-target/release/faultline}
out=${2:-ci/hunt-table.csv}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
half() {
  local n=$1; shift
  local args=()
  for b in "$@"; do args+=(--bug "$b"); done
  "$bin" hunt --table "$work/part$n.csv" --starts 5 --blind --explore --budget 120s --jobs 1 "${args[@]}" \
    > "$work/part$n.log" 2>&1 || true
}
half 1 etcd-13766 etcd-18055 etcd-15271 etcd-14370 etcd-15220 etcd-17247 stale-local-read etcd-18667 etcd-22376 &
half 2 etcd-19179 downgrade-keeps-fields etcd-20221 etcd-20221-restore etcd-17529 etcd-18089 etcd-14685 downgrade-no-snapshot etcd-22445 &
wait
cat "$work/part1.log" "$work/part2.log"
{ cat "$work/part1.csv"; tail -n +2 "$work/part2.csv"; } > "$out"
echo "hunt table: $out"
