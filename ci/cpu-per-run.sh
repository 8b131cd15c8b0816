#!/usr/bin/env bash
# CPU time (user + system) per run of two faultline binaries on one
# scenario, in interleaved pairs (old, new, old, new, ...) so that the
# load of a shared machine falls on both alike. Each measurement is
# `BIN run --scenario SCENARIO --seeds 0..SEEDS --jobs 1` as a whole
# process, divided by SEEDS. Prints one line per measurement, then the
# medians, the runs per CPU-hour they mean, and the median and range of
# the per-pair ratios new/old.
# Usage: ci/cpu-per-run.sh OLD_BINARY NEW_BINARY SCENARIO [PAIRS (5)] [SEEDS (20)]
set -euo pipefail
usage="usage: ci/cpu-per-run.sh OLD_BINARY NEW_BINARY SCENARIO [PAIRS] [SEEDS] [run|soak]"
[ $# -ge 3 ] && [ $# -le 6 ] || { echo "$usage" >&2; exit 2; }
old=$1
new=$2
scenario=$3
pairs=${4:-5}
seeds=${5:-20}
command=${6:-run}
[ "$command" = run ] || [ "$command" = soak ] || { echo "cpu-per-run: COMMAND '$command' is not run or soak" >&2; exit 2; }
for bin in "$old" "$new"; do
  [ -x "$bin" ] || { echo "cpu-per-run: $bin is not an executable file" >&2; exit 2; }
done
for n in "$pairs" "$seeds"; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "cpu-per-run: '$n' is not a positive count" >&2; exit 2; }
done
timing=$(mktemp)
campaign=$(mktemp -d)
trap 'rm -rf "$timing" "$campaign"' EXIT
# CPU seconds of one measurement of binary $1.
cpu_seconds() {
  if [ "$command" = run ]; then
    /usr/bin/time -f '%U %S' -o "$timing" "$1" run --scenario "$scenario" \
      --seeds "0..$seeds" --jobs 1 > /dev/null 2>&1 || true
  else
    rm -rf "$campaign/soak"
    /usr/bin/time -f '%U %S' -o "$timing" "$1" soak --out "$campaign/soak" \
      --scenario "$scenario" --runs "$seeds" --jobs 1 --quiet > /dev/null 2>&1 || true
  fi
  awk '{ print $1 + $2 }' "$timing"
}
old_cpu=()
new_cpu=()
for i in $(seq 1 "$pairs"); do
  o=$(cpu_seconds "$old")
  n=$(cpu_seconds "$new")
  old_cpu+=("$o")
  new_cpu+=("$n")
  echo "pair $i: old ${o}s new ${n}s (load $(cut -d' ' -f1 /proc/loadavg))"
done
python3 - "$seeds" "${old_cpu[*]}" "${new_cpu[*]}" <<'EOF'
import statistics, sys
seeds = int(sys.argv[1])
old = [float(x) for x in sys.argv[2].split()]
new = [float(x) for x in sys.argv[3].split()]
ratios = [n / o for o, n in zip(old, new)]
per_run_old = statistics.median(old) / seeds
per_run_new = statistics.median(new) / seeds
print(f"CPU per run: old {per_run_old * 1000:.0f} ms, new {per_run_new * 1000:.0f} ms")
print(f"runs per CPU-hour: old {3600 / per_run_old:,.0f}, new {3600 / per_run_new:,.0f}")
print(f"ratio new/old: median {statistics.median(ratios):.2f} "
      f"(range {min(ratios):.2f}-{max(ratios):.2f})")
EOF
