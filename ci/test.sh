#!/usr/bin/env bash
# The whole test suite: what CI runs on every change (and `.ci/run` calls).
# Formatting, clippy with warnings as errors, every unit, property, oracle,
# browser, real-etcd and simulation test; then, with the optimized faultline
# binary: every catalog scenario on fixed seeds, a few random seeds (printed
# so they can be replayed), the regression corpus, the store against a real
# etcd (`faultline diff`), a short soak and its dashboard, and a determinism
# check. Runs on a fresh Debian machine with nothing installed by hand (it
# installs Chromium, etcd and protoc from Debian when they are missing).
set -euo pipefail
cd "$(dirname "$0")/.."

start=$(date +%s)
step() { printf '\n==> [%ss] %s\n' "$(( $(date +%s) - start ))" "$*"; }

step "Chromium, etcd and protoc (Debian packages, installed when missing)"
# Chromium for the report browser tests; a real etcd (Debian's 3.4.23) for
# `faultline diff` and its tests; protoc to build etcd's proto files into the
# real-etcd client (realetcd). Each may be pointed elsewhere instead.
packages=()
if [ -z "${FAULTLINE_CHROMIUM:-}" ] && ! command -v chromium >/dev/null 2>&1; then packages+=(chromium); fi
if [ -z "${FAULTLINE_ETCD:-}" ] && ! command -v etcd >/dev/null 2>&1; then packages+=(etcd-server); fi
if [ -z "${PROTOC:-}" ] && ! command -v protoc >/dev/null 2>&1; then packages+=(protobuf-compiler); fi
if [ ${#packages[@]} -gt 0 ]; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${packages[@]}" >/dev/null
  echo "installed ${packages[*]}"
fi
echo "chromium: ${FAULTLINE_CHROMIUM:-$(command -v chromium)}"
echo "etcd: ${FAULTLINE_ETCD:-$(command -v etcd)}"
echo "protoc: ${PROTOC:-$(command -v protoc)}"

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
# Built for realetcd's integration tests; `faultline diff` runs it.
test -x ./target/release/faultline-etcd || { echo "cargo test did not build faultline-etcd" >&2; exit 1; }
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

step "the store against a real etcd: faultline diff on fixed seeds"
# Debian's etcd 3.4.23 predates the fixes of etcd-18089 (v3.4.34) and
# etcd-20221 (v3.4.38), and has etcd's duplicate-key check (etcd-22445, fix
# proposed in PR 22395), so the simulated store runs with those bugs
# switched on to compare with it as it is.
"$bin" diff --seeds 0..20 --requests 200 --bug etcd-18089 --bug etcd-20221 --bug etcd-22445 > "$logs/diff.log" \
  || { cat "$logs/diff.log"; exit 1; }
head -19 "$logs/diff.log"
# And it must see a store that only alters answers: each answer-only switch
# makes the same comparison fail (exit 1, never 2: not a usage error).
for mutant in txn-refused lease-put-refused delete-refused; do
  status=0
  "$bin" diff --seeds 0..3 --requests 100 --bug etcd-18089 --bug etcd-20221 --bug etcd-22445 --bug "$mutant" \
    > "$logs/diff-$mutant.log" 2>&1 || status=$?
  if [ "$status" -ne 1 ]; then
    cat "$logs/diff-$mutant.log"
    echo "faultline diff --bug $mutant exited $status: the answer-only change went unseen"
    exit 1
  fi
  grep -m1 '^all ' "$logs/diff-$mutant.log"
done

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
