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
# uses, and Display/Debug text. Results: OUT/violation.txt (a run failed a
# rule), OUT/inconclusive.txt (runs undecided, none failed), OUT/missed.txt,
# OUT/timeout.txt, and cargo-mutants' own OUT/mutants.out (a log per mutant
# with the line of every run that did not pass).
#
# MUTANTS_AGAIN=FILE takes the mutants FILE names (one per line, as an
# earlier run's missed.txt or violation.txt lists them) instead of a shard:
# the same mutants again after the catalog changed, found by file and
# description whatever line they moved to (logs in OUT/again/, a name no
# longer listed in OUT/not-found.txt).
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
# A second call reuses the clone (and its build), brought to this HEAD.
[ -e "$out/tree" ] || git clone -q "$(git rev-parse --show-toplevel)" "$out/tree"
git -C "$out/tree" fetch -q origin HEAD
git -C "$out/tree" reset -q --hard FETCH_HEAD
cd "$out/tree"
export CARGO_TARGET_DIR="$out/target"
export FAULTLINE_MUTANT_SEEDS="$seeds"
# The unmutated store must pass the campaign first. cargo-mutants' own
# baseline would run the mutated package's tests, not --test-package's.
baseline() { cargo test --profile release -p scenarios --test mutation_campaign -- --ignored; }
# An interrupted earlier call can leave the workspace's own build broken
# (undefined symbols at link time): on a failure, retry once from clean.
baseline || {
  rm -rf "$CARGO_TARGET_DIR/release/incremental"
  cargo clean -q --profile release -p node -p sim -p checker -p scenarios
  baseline
}
if [ -n "${MUTANTS_AGAIN:-}" ]; then
  [ -r "$MUTANTS_AGAIN" ] || { echo "mutants: MUTANTS_AGAIN '$MUTANTS_AGAIN' cannot be read" >&2; exit 2; }
  # cargo-mutants 27.1 applies --re and --exclude-re to every mutant but
  # its "delete field" ones, so the named mutants are applied here, one at
  # a time, from its listing's diffs, and judged as below.
  cargo mutants --list --json --diff --package node > "$out/listing.json"
  python3 - "$out" "$MUTANTS_AGAIN" <<'PY'
import json, os, re, subprocess, sys
out, wanted_file = sys.argv[1], sys.argv[2]
listing = json.load(open(os.path.join(out, "listing.json")))
def unplaced(name):
    # The same file and description, on whatever line it moved to.
    return re.sub(r":\d+:\d+:", ":", name, count=1)
def place(name):
    line, col = re.search(r":(\d+):(\d+):", name).groups()
    return int(line), int(col)
def closest(name, found):
    # A description can recur in one function (two `>` in one validate):
    # the same column first, then the nearest line.
    line, col = place(name)
    return min(found, key=lambda m: (place(m["name"])[1] != col, abs(place(m["name"])[0] - line)))
kinds = {k: [] for k in ("violation", "inconclusive", "missed", "timeout", "unviable", "not-found")}
logs = os.path.join(out, "again")
os.makedirs(logs, exist_ok=True)
for i, name in enumerate(l.strip() for l in open(wanted_file)):
    if not name:
        continue
    found = [m for m in listing if unplaced(m["name"]) == unplaced(name)]
    if not found:
        kinds["not-found"].append(name)
        continue
    m = closest(name, found)
    subprocess.run(["patch", "-s", m["file"]], input=m["diff"], text=True, check=True)
    try:
        run = subprocess.run(
            ["cargo", "test", "--profile", "release", "-p", "scenarios", "--test", "mutation_campaign",
             "--", "--ignored", "--nocapture"],
            capture_output=True, text=True, timeout=1200)
        log = run.stdout + run.stderr
        if run.returncode == 0:
            kind = "missed"
        elif "\nFail " in log:
            kind = "violation"
        elif "could not compile" in log:
            kind = "unviable"
        else:
            kind = "inconclusive"
    except subprocess.TimeoutExpired as e:
        log, kind = str(e), "timeout"
    subprocess.run(["git", "checkout", "-q", "--", m["file"]], check=True)
    open(os.path.join(logs, f"{i:03}.log"), "w").write(m["name"] + "\n" + log)
    kinds[kind].append(m["name"])
    print(f"{kind:13} {m['name']}", flush=True)
for kind, names in kinds.items():
    with open(os.path.join(out, kind + ".txt"), "w") as f:
        f.writelines(n + "\n" for n in names)
    print(f"{kind:13} {len(names)}")
PY
  exit 0
fi
status=0
cargo mutants --in-place --baseline skip --no-shuffle --package node --test-package scenarios \
  --profile release --shard "$shard" --sharding round-robin \
  --exclude node/src/invariants.rs --exclude node/src/coverage.rs \
  --exclude node/src/failpoint.rs --exclude node/src/bugs.rs \
  --exclude node/src/real_disk.rs --exclude node/src/source_scan.rs \
  --exclude-re 'impl.*(Display|Debug)' \
  --timeout 600 --build-timeout 1200 --output "$out" \
  --cargo-test-arg=--test --cargo-test-arg=mutation_campaign -- -- --ignored --nocapture \
  || status=$?
# 2 (missed mutants) and 3 (timeouts) are findings; anything else means
# cargo-mutants itself could not do the job, and its message said why.
case $status in
  0|2|3) ;;
  *) echo "mutants: cargo-mutants stopped with status $status" >&2; exit "$status" ;;
esac
# cargo-mutants' "caught" joins two outcomes the campaign's log lines tell
# apart: a run that failed a rule, and runs that were only inconclusive.
# outcomes.json names each mutant's log.
python3 - "$out" <<'PY'
import json, os, sys
out = sys.argv[1]
outcomes = json.load(open(os.path.join(out, "mutants.out", "outcomes.json")))["outcomes"]
kinds = {k: [] for k in ("violation", "inconclusive", "missed", "timeout", "unviable")}
for o in outcomes:
    mutant = o["scenario"].get("Mutant") if isinstance(o["scenario"], dict) else None
    if mutant is None:
        continue  # the baseline
    summary = o["summary"]
    if summary == "CaughtMutant":
        log = open(os.path.join(out, "mutants.out", o["log_path"]), errors="replace").read()
        kind = "violation" if "\nFail " in log else "inconclusive"
    else:
        kind = {"MissedMutant": "missed", "Timeout": "timeout", "Unviable": "unviable"}[summary]
    kinds[kind].append(mutant["name"])
for kind, names in kinds.items():
    with open(os.path.join(out, kind + ".txt"), "w") as f:
        f.writelines(n + "\n" for n in names)
    print(f"{kind:13} {len(names)}")
PY
