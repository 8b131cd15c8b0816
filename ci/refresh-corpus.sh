#!/usr/bin/env bash
# Regenerates the regression corpus after a deliberate code change: reruns
# each repro's scenario and seed on the current code, and rewrites its trace
# hash only if the run passes (`faultline replay --refresh`). A repro that
# fails is left as it is and makes this script fail.
# Usage: ci/refresh-corpus.sh [FAULTLINE_BINARY] [DIR]
set -euo pipefail
bin=${1:-target/release/faultline}
dir=${2:-ci/corpus}
status=0
for repro in "$dir"/*.toml; do
  "$bin" replay --refresh "$repro" > /dev/null || status=1
done
exit $status
