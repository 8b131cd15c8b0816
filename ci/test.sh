#!/usr/bin/env bash
# The whole test suite: what CI runs on every change (and `.ci/run` calls).
# Formatting, clippy with warnings as errors, every unit, property, oracle,
# browser and simulation test; then, with the optimized faultline binary:
# every catalog scenario on fixed seeds, a few random seeds (printed so they
# can be replayed), the regression corpus, a short soak and its dashboard,
# and a determinism check. Runs on a fresh Debian machine with nothing
# installed by hand (it installs Chromium for the report browser tests).
set -euo pipefail
cd "$(dirname "$0")/.."

start=$(date +%s)
step() { printf '\n==> [%ss] %s\n' "$(( $(date +%s) - start ))" "$*"; }

step "Chromium for the report browser tests"
if [ -n "${FAULTLINE_CHROMIUM:-}" ] || command -v chromium >/dev/null 2>&1; then
  echo "found ${FAULTLINE_CHROMIUM:-$(command -v chromium)}"
else
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
  echo "installed $(chromium --version)"
fi

step "formatting"
cargo fmt --all -- --check

step "clippy (warnings are errors)"
cargo clippy --workspace --all-targets --release -- -D warnings

step "unit, property, oracle, browser and simulation tests"
cargo test --workspace --release

# The test build above also built the faultline binary (the scenarios
# crate's integration tests run it); a separate `cargo build` would rebuild
# the whole workspace with the dev-dependency features left out.
bin=./target/release/faultline
test -x "$bin" || { echo "cargo test did not build $bin" >&2; exit 1; }
jobs=$(nproc 2>/dev/null || echo 2)
logs=target/ci
mkdir -p "$logs"

step "every catalog scenario on fixed seeds 0..10"
mapfile -t scenarios < <("$bin" list scenarios | awk '{print $1}')
for s in "${scenarios[@]}"; do
  "$bin" run --scenario "$s" --seeds 0..10 --jobs "$jobs" --out "$logs/failed" > "$logs/$s.log" \
    || { cat "$logs/$s.log"; exit 1; }
  echo "$s: $(grep -c 'verdict=pass' "$logs/$s.log") of 10 seeds pass"
done

step "random seeds (replay a failure with the printed command)"
base=$(( ($(date +%s) % 1000000) * 1000 ))
for i in 0 1 2 3; do
  s=${scenarios[$(( (base / 1000 + i) % ${#scenarios[@]} ))]}
  seed=$(( base + i ))
  echo "faultline replay --scenario $s --seed $seed"
  "$bin" run --scenario "$s" --seeds "$seed..$((seed + 1))" --out "$logs/failed"
done

step "regression corpus (every fixed failure must replay exactly and pass)"
ci/corpus.sh "$bin" ci/corpus "$logs"

step "a short soak campaign, then its dashboard"
rm -rf "$logs/soak"
"$bin" soak --out "$logs/soak" --runs 40 --start-seed 7000 --jobs "$jobs" --quiet
"$bin" report "$logs/soak" --out "$logs/soak/dashboard.html" \
  --markdown "$logs/soak/summary.md" --junit "$logs/soak/junit.xml"
grep -q '<testsuites[^>]*failures="0"' "$logs/soak/junit.xml" || { cat "$logs/soak/summary.md"; exit 1; }
echo "40 soak runs pass; dashboard at $logs/soak/dashboard.html"

step "determinism: every run replays to the same trace hash"
"$bin" run --seeds 0..20 --jobs "$jobs" --check-determinism > "$logs/determinism.log" \
  || { cat "$logs/determinism.log"; exit 1; }
echo "20 seeds replayed identically"

echo
echo "ci/test.sh passed in $(( $(date +%s) - start ))s"
