#!/usr/bin/env bash
# The nightly soak: a time-boxed campaign over the whole scenario catalog,
# then the review dashboard. Exits non-zero when any run failed; the failing
# runs' folders (repro, history, trace, report.html) stay under OUT.
#
#   ci/nightly.sh [OUT]                      default OUT: target/nightly/<UTC date>
#
# Environment:
#   SOAK_DURATION  wall-clock box, e.g. 30m, 6h (default 1h)
#   SOAK_SHARD     K/N: this machine's share of the campaign (default 0/1)
#   SOAK_SEED      first seed (default: the UTC date as YYYYMMDD * 10^6, so a
#                  night's shards agree and a rerun of the same night resumes)
#   SOAK_JOBS      runs at once (default: every CPU)
#
# Killed and started again with the same OUT and environment, it resumes
# where it stopped (faultline soak is crash-safe).
set -uo pipefail
cd "$(dirname "$0")/.."

day=$(date -u +%Y-%m-%d)
out=${1:-target/nightly/$day}
duration=${SOAK_DURATION:-1h}
shard=${SOAK_SHARD:-0/1}
seed=${SOAK_SEED:-$(( $(date -u +%Y%m%d) * 1000000 ))}
jobs=${SOAK_JOBS:-$(nproc 2>/dev/null || echo 2)}

cargo build --release --bin faultline || exit 2
bin=./target/release/faultline

mkdir -p "$out"
"$bin" soak --out "$out/campaign" --duration "$duration" --shard "$shard" \
  --start-seed "$seed" --jobs "$jobs"
soak_status=$?
if [ "$soak_status" -eq 2 ]; then
  echo "nightly: faultline soak refused its arguments (exit 2)" >&2
  exit 2
fi

"$bin" report "$out/campaign" --out "$out/dashboard.html" \
  --markdown "$out/summary.md" --junit "$out/junit.xml" || exit 2
cat "$out/summary.md"

if [ "$soak_status" -ne 0 ]; then
  echo "nightly: failures found (exit $soak_status); run folders are in $out/campaign/runs/" >&2
fi
exit "$soak_status"
