#!/usr/bin/env bash
# Mutation testing of the store: cargo-mutants changes one thing at a time
# in the crate `node` (a comparison flipped, a function returning a default,
# an operator swapped) and the general catalog's campaign
# (scenarios/tests/mutation_campaign.rs, seeds SEEDS, no bug switched on)
# must fail for the mutant to count as caught. Nothing in the catalog was
# written knowing any mutant, so the caught share is a blind figure.
#
# Runs in a scratch clone of HEAD under OUT (cargo-mutants edits files in
# place there), one mutant at a time; SHARD K/N takes every N-th mutant in
# cargo-mutants' listed order (round robin), a fixed sample. Left out: the
# store's own checking and instrumentation (invariants, coverage points,
# failpoints, bug switches), the real-disk backend the simulation never
# uses, and Display/Debug text. Results: OUT/mutants.out (caught.txt,
# missed.txt, timeout.txt, unviable.txt, outcomes.json).
# Usage: ci/mutants.sh OUT [SHARD (0/60)] [SEEDS (0..10)]
set -euo pipefail
usage="usage: ci/mutants.sh OUT [SHARD] [SEEDS]"
[ $# -ge 1 ] && [ $# -le 3 ] || { echo "$usage" >&2; exit 2; }
out=$1
shard=${2:-0/60}
seeds=${3:-0..10}
[[ "$shard" =~ ^[0-9]+/[1-9][0-9]*$ ]] || { echo "mutants: SHARD '$shard' is not K/N" >&2; exit 2; }
[[ "$seeds" =~ ^[0-9]+\.\.[0-9]+$ ]] || { echo "mutants: SEEDS '$seeds' is not A..B" >&2; exit 2; }
command -v cargo-mutants >/dev/null || cargo install cargo-mutants --locked --version 27.1.0
mkdir -p "$out"
out=$(cd "$out" && pwd)
[ -e "$out/tree" ] || git clone -q "$(git rev-parse --show-toplevel)" "$out/tree"
cd "$out/tree"
export CARGO_TARGET_DIR="$out/target"
export FAULTLINE_MUTANT_SEEDS="$seeds"
# The unmutated store must pass the campaign first. cargo-mutants' own
# baseline would run the mutated package's tests, not --test-package's.
cargo test --profile release -p scenarios --test mutation_campaign -- --ignored
cargo mutants --in-place --baseline skip --no-shuffle --package node --test-package scenarios \
  --profile release --shard "$shard" --sharding round-robin \
  --exclude node/src/invariants.rs --exclude node/src/coverage.rs \
  --exclude node/src/failpoint.rs --exclude node/src/bugs.rs \
  --exclude node/src/real_disk.rs --exclude node/src/source_scan.rs \
  --exclude-re 'impl.*(Display|Debug)' \
  --timeout 600 --build-timeout 1200 --output "$out" \
  --cargo-test-arg=--test --cargo-test-arg=mutation_campaign -- -- --ignored --nocapture \
  || true
for f in caught missed timeout unviable; do
  printf '%-8s %s\n' "$f" "$(wc -l < "$out/mutants.out/$f.txt" 2>/dev/null || echo 0)"
done
