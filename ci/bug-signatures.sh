#!/usr/bin/env bash
# How many distinct problems (dashboard rows, one per failure signature)
# each catalogued bug shows: per bug, a soak over the general catalog plus
# the bug's trigger scenarios with only that bug switched on, then its
# dashboard; prints one line per bug (runs, failed, distinct problems,
# their signatures) and, last, the two-bug campaign etcd-15220 and
# stale-local-read (separate campaigns reported together: two problems
# expected, never one shared).
# Usage: ci/bug-signatures.sh RUNS [OUT] [FAULTLINE_BINARY] [BUG...]
set -euo pipefail
runs=${1:?usage: ci/bug-signatures.sh RUNS [OUT] [FAULTLINE_BINARY] [BUG...]}
out=${2:-target/bug-signatures}
bin=${3:-target/release/faultline}
shift $(( $# < 3 ? $# : 3 ))
mkdir -p "$out"
general=()
while read -r name _; do general+=(--scenario "$name"); done \
  < <("$bin" list scenarios | grep -v -e '\[bug trigger\]' -e '\[benchmark\]')
# The switches: `list bugs` also lists etcd issues with no switch (no detail lines).
if [ $# -gt 0 ]; then bugs=("$@"); else
  mapfile -t bugs < <("$bin" list bugs | awk '/^[a-z]/ {name=$1} /^ +triggers:/ {print name}')
fi

# The signatures of a dashboard's Markdown summary: the first cell of each
# problem row (the tables under "## New/Open problems").
signatures() {
  awk '/^## (New|Open) problems/ {t=1; next} /^## / {t=0} t && /^\| `/ {print}' "$1" \
    | sed -E 's/^\| `([^`]*)`.*/\1/'
}

summarize() { # name folder...
  local name=$1; shift
  local md="$out/$name.md"
  "$bin" report "$@" --out "$out/$name.html" --markdown "$md" 2>/dev/null
  local total failed distinct
  total=$(grep -m1 '^- Runs:' "$md" | awk '{print $3}')
  failed=$(grep -m1 '^- Failed:' "$md" | awk '{print $3}')
  distinct=$(signatures "$md" | wc -l)
  printf '%-22s runs=%-5s failed=%-5s problems=%s\n' "$name" "$total" "$failed" "$distinct"
  signatures "$md" | sed 's/^/    /'
}

for bug in "${bugs[@]}"; do
  triggers=()
  for t in $("$bin" list bugs | awk -v b="$bug" '$1==b {on=1; next} /^[a-z]/ {on=0} on && /triggers:/ {sub(/.*triggers: /,""); sub(/;.*/,""); gsub(/,/," "); print}'); do
    # A trigger that is also a general scenario is there already.
    case " ${general[*]} " in *" $t "*) ;; *) triggers+=(--scenario "$t") ;; esac
  done
  "$bin" soak --out "$out/$bug" --bug "$bug" --runs "$runs" --jobs "$(nproc)" --quiet \
    "${general[@]}" "${triggers[@]}" >/dev/null 2>&1 || true
  summarize "$bug" "$out/$bug"
done
if [ -d "$out/etcd-15220" ] && [ -d "$out/stale-local-read" ]; then
  summarize "two-bugs" "$out/etcd-15220" "$out/stale-local-read"
fi
