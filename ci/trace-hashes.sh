#!/usr/bin/env bash
# The trace hash of every catalog scenario on seeds 0..N, one line per run
# (`scenario seed trace`), sorted: run it before and after a change that
# must not change behaviour (a reshaping) and diff the two files.
# Usage: ci/trace-hashes.sh FAULTLINE_BINARY [SEEDS (default 20)] > FILE
set -euo pipefail
bin=${1:?usage: ci/trace-hashes.sh FAULTLINE_BINARY [SEEDS] > FILE}
seeds=${2:-20}
jobs=$(nproc 2>/dev/null || echo 2)
while read -r name _; do
  # A failing run is still a run whose hash counts: ignore the exit code.
  "$bin" run --scenario "$name" --seeds "0..$seeds" --jobs "$jobs" 2>/dev/null || true
done < <("$bin" list scenarios) \
  | sed -n 's/^seed=\([0-9]*\) scenario=\([^ ]*\) verdict=[a-z]* trace=\([0-9a-f]*\).*/\2 \1 \3/p' \
  | sort
