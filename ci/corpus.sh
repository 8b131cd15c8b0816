#!/usr/bin/env bash
# The regression corpus: every repro in DIR must replay to its recorded
# trace hash and pass. A repro whose hash drifted (the code changed since it
# was written) fails here: it no longer replays the run it recorded.
# Usage: ci/corpus.sh FAULTLINE_BINARY [DIR] [LOG_DIR]
set -euo pipefail
bin=${1:?usage: ci/corpus.sh FAULTLINE_BINARY [DIR] [LOG_DIR]}
dir=${2:-ci/corpus}
logs=${3:-target/ci}
mkdir -p "$logs"
shopt -s nullglob
repros=("$dir"/*.toml)
[ ${#repros[@]} -gt 0 ] || { echo "corpus: no repro files in $dir"; exit 1; }
for repro in "${repros[@]}"; do
  name=$(basename "$repro" .toml)
  if ! "$bin" replay "$repro" > "$logs/corpus-$name.trace" 2> "$logs/corpus-$name.log"; then
    cat "$logs/corpus-$name.log"
    echo "corpus: $repro failed"
    echo "after a deliberate change, regenerate the corpus with: ci/refresh-corpus.sh $bin $dir"
    exit 1
  fi
  echo "$name: $(grep -o 'verdict=[a-z]*' "$logs/corpus-$name.trace" | tail -1)"
done
