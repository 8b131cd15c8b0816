#!/usr/bin/env bash
# The whole test suite: what CI runs on every change (and `.ci/run` calls).
# Formatting, clippy with warnings as errors, every unit, property, oracle
# and simulation test, then the scenario catalog over fixed and random
# seeds, and a determinism check. Optimized build throughout.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }
start=$(date +%s)

step "formatting"
cargo fmt --all -- --check

step "clippy (warnings are errors)"
cargo clippy --workspace --all-targets --release -- -D warnings

step "unit, property, oracle and simulation tests"
cargo test --workspace --release

step "building faultline"
cargo build --release --bin faultline
bin=./target/release/faultline
jobs=$(nproc 2>/dev/null || echo 2)

step "every catalog scenario on fixed seeds"
mapfile -t scenarios < <("$bin" list scenarios | awk '{print $1}')
for s in "${scenarios[@]}"; do
  "$bin" run --scenario "$s" --seeds 0..10 --jobs "$jobs" > "target/ci-$s.log" || { cat "target/ci-$s.log"; exit 1; }
  echo "$s: $(grep -c 'verdict=pass' "target/ci-$s.log") of 10 seeds pass"
done

step "random seeds (replay any failure with: faultline replay --scenario S --seed N)"
base=$(( ($(date +%s) % 100000) * 1000 ))
echo "random seeds: $base..$((base + 4))"
for s in "${scenarios[@]}"; do
  "$bin" run --scenario "$s" --seeds "$base..$((base + 4))" --jobs "$jobs"
done

step "determinism: every run replays to the same trace hash"
"$bin" run --seeds 0..20 --jobs "$jobs" --check-determinism > target/ci-determinism.log || { cat target/ci-determinism.log; exit 1; }
echo "20 seeds replayed identically"

echo
echo "ci/test.sh passed in $(( $(date +%s) - start ))s"
