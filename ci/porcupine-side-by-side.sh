#!/usr/bin/env bash
# faultline and porcupine side by side on porcupine's own test data: the
# verdict of each on every file, and both timed as whole processes (read the
# file, check it, print the verdict), run in turn (porcupine, faultline,
# porcupine, ...) so that a machine growing slower or faster affects both.
#
# Usage: ci/porcupine-side-by-side.sh PORCUPINE FAULTLINE_BINARY [RUNS (default 5)] [OUT_DIR]
#   PORCUPINE: porcupine's source tree (github.com/anishathalye/porcupine),
#     or a git directory of it (its HEAD is used). Nothing is downloaded:
#     porcupine has no dependencies, and the driver (ci/porcupine, our own
#     code) is built against that tree with a replace directive.
#   Writes OUT_DIR/side-by-side.tsv (default: a new temporary directory) and
#   prints the table and a summary: verdict agreement, and for every file
#   porcupine needs more than 50 ms for, whether faultline is 10x faster.
#
# Cases: test_data/jepsen/etcd_*.log (a compare-and-set register:
# `--model register --format jepsen-log`), test_data/kv/*.txt partitioned
# by key (`--model kv --format edn`) and, as porcupine's own tests do,
# c01 and c10 unpartitioned (`--no-partition`).
set -euo pipefail
usage="usage: ci/porcupine-side-by-side.sh PORCUPINE FAULTLINE_BINARY [RUNS] [OUT_DIR]"
src=${1:?$usage}
faultline=${2:?$usage}
runs=${3:-5}
out=${4:-$(mktemp -d)}
here=$(cd "$(dirname "$0")" && pwd)

[[ -x $faultline ]] || { echo "$faultline: not an executable faultline binary" >&2; exit 2; }
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "RUNS: expected a positive number, got '$runs'" >&2; exit 2; }
command -v go >/dev/null || { echo "go: not found (Debian: apt-get install golang-go)" >&2; exit 2; }
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# porcupine's source: a tree, or the HEAD of a git directory.
if [[ -f $src/go.mod ]]; then
  porcupine=$(cd "$src" && pwd)
elif git --git-dir="$src" rev-parse --verify -q HEAD >/dev/null; then
  porcupine=$work/porcupine
  mkdir -p "$porcupine"
  git --git-dir="$src" archive HEAD | tar -x -C "$porcupine"
  echo "porcupine: $(git --git-dir="$src" log -1 --format='%h %cs %s' HEAD)"
else
  echo "$src: neither porcupine's source tree (no go.mod) nor a git directory" >&2
  exit 2
fi
grep -q '^module github.com/anishathalye/porcupine$' "$porcupine/go.mod" ||
  { echo "$src: go.mod is not github.com/anishathalye/porcupine's" >&2; exit 2; }

# The driver, built against that tree: no module proxy, no network.
mkdir -p "$work/driver"
cp "$here/porcupine/go.mod" "$here/porcupine/main.go" "$work/driver/"
(
  cd "$work/driver"
  go mod edit -replace="github.com/anishathalye/porcupine=$porcupine"
  GOFLAGS=-mod=mod GOPROXY=off go build -o "$work/porcupine-check" .
)
echo "porcupine-check built with $(go version | cut -d' ' -f3)"

# One case a line: name, porcupine's arguments, faultline's arguments.
cases=$work/cases
: >"$cases"
for f in "$porcupine"/test_data/jepsen/etcd_*.log; do
  printf '%s\t--format jepsen %s\tcheck %s --model register --format jepsen-log\n' \
    "$(basename "$f")" "$f" "$f" >>"$cases"
done
for f in "$porcupine"/test_data/kv/*.txt; do
  printf '%s\t--format kv %s\tcheck %s --model kv --format edn\n' \
    "$(basename "$f")" "$f" "$f" >>"$cases"
done
for name in c01-ok c01-bad c10-ok c10-bad; do
  f=$porcupine/test_data/kv/$name.txt
  printf '%s\t--format kv --no-partition %s\tcheck %s --model kv --format edn --no-partition\n' \
    "$name.txt (unpartitioned)" "$f" "$f" >>"$cases"
done

# Exit code to verdict, alike for both tools: 0 holds, 1 violated, 3 undecided.
verdict() {
  case $1 in
    0) echo ok ;;
    1) echo illegal ;;
    3) echo unknown ;;
    *) echo "error($1)" ;;
  esac
}

# Wall milliseconds of one run of "$@" (bash's own clock: no extra process).
run_ms() {
  local start=$EPOCHREALTIME
  "$@" >/dev/null 2>&1 || true
  local end=$EPOCHREALTIME
  awk -v s="$start" -v e="$end" 'BEGIN { printf "%.3f\n", (e - s) * 1000 }'
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

table=$out/side-by-side.tsv
printf 'case\tporcupine\tfaultline\tagree\tporcupine_ms\tfaultline_ms\tspeedup\n' >"$table"
while IFS=$'\t' read -r name pargs fargs; do
  # shellcheck disable=SC2086 # the arguments are words without spaces
  {
    set +e
    "$work/porcupine-check" $pargs >/dev/null 2>&1
    pv=$(verdict $?)
    "$faultline" $fargs >/dev/null 2>&1
    fv=$(verdict $?)
    set -e
    : >"$work/p" && : >"$work/f"
    for _ in $(seq "$runs"); do
      run_ms "$work/porcupine-check" $pargs >>"$work/p"
      run_ms "$faultline" $fargs >>"$work/f"
    done
  }
  pm=$(median <"$work/p")
  fm=$(median <"$work/f")
  # A file faultline refuses (exit 2: porcupine's empty etcd_095.log) has
  # no verdict to agree or disagree with.
  if [[ $fv == error* ]]; then
    agree=unread
  elif [[ $pv == "$fv" ]]; then
    agree=yes
  else
    agree=NO
  fi
  speedup=$(awk -v p="$pm" -v f="$fm" 'BEGIN { printf "%.1f", p / f }')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$pv" "$fv" "$agree" "$pm" "$fm" "$speedup" >>"$table"
done <"$cases"

column -t -s $'\t' "$table"
awk -F'\t' -v runs="$runs" 'NR > 1 {
    n++; if ($4 == "yes") agree++; if ($4 == "unread") unread++; if ($4 == "NO") differ = differ " " $1
    if ($5 > 50) { slow++; if ($7 >= 10) fast++; else below = below " " $1 " (" $7 "x)" }
  }
  END {
    printf "\n%d of %d cases: the same verdict; %d refused by faultline (no verdict); differing:%s\n", agree, n, unread, (differ == "" ? " none" : differ)
    printf "times: medians of %d runs each, whole processes, run in turn\n", runs
    printf "%d cases take porcupine more than 50 ms; faultline is 10x faster or more on %d of them\n", slow, fast
    if (below != "") printf "under 10x:%s\n", below
  }' "$table"
echo "table: $table"
