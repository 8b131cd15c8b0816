#!/usr/bin/env bash
# Import and check time, and peak memory, of a 100,000-operation history in
# every format `faultline check` reads: faultline's JSON lines, an etcd
# robustness report, Jepsen keyed-register EDN, porcupine's kv layout (EDN
# too) and a Jepsen etcd log (jepsen.util lines, one register). Two runs
# (ci/import/*.toml, seed 1) make the histories; `faultline export` writes
# the other formats; the log is the register run's EDN written as
# jepsen.util lines. Each check is one whole process under GNU time.
# Usage: ci/import-figures.sh FAULTLINE_BINARY [OUT]
set -euo pipefail
bin=${1:?usage: ci/import-figures.sh FAULTLINE_BINARY [OUT]}
out=${2:-target/import-figures}
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$out"
mkdir -p "$out"
for name in kv-100k register-100k; do
  "$bin" run --scenario "$here/import/$name.toml" --seed 1 --jobs 1 --out "$out/runs" --keep \
    | grep '^seed=' || true
done
kv="$out/runs/kv-100k-1"
register="$out/runs/register-100k-1"
"$bin" export "$kv" --format etcd-robustness --out "$out/kv-report" > /dev/null
"$bin" export "$kv" --format jepsen-edn --out "$out/kv.edn" > /dev/null
"$bin" export "$kv" --format porcupine-kv --out "$out/kv-porcupine.edn" > /dev/null
"$bin" export "$register" --format jepsen-edn --out "$out/register.edn" > /dev/null
# {:type :ok, :f :read, :value ["key0" "c3-17"], :process 3, ...} becomes
# INFO  jepsen.util - 3<TAB>:ok<TAB>:read<TAB>"c3-17" (nemesis lines dropped).
sed -nE 's/^\{:type :([a-z]+), :f :([a-z]+), :value \[[^ ]+ (.*)\], :process ([0-9]+).*$/INFO  jepsen.util - \4\t:\1\t:\2\t\3/p' \
  "$out/register.edn" > "$out/register.log"

echo "| history | format | model | operations | verdict | wall s | peak MB |"
echo "|---|---|---|---:|---|---:|---:|"
measure() {
  local label=$1 format=$2 model=$3 file=$4
  local status=0
  /usr/bin/time -f '%e %M' -o "$out/time.txt" \
    "$bin" check "$file" --format "$format" --model "$model" --timeout 600 > "$out/check.txt" 2>&1 \
    || status=$?
  local ops verdict
  ops=$(grep -o '[0-9]* operations' "$out/check.txt" | head -1 | cut -d' ' -f1 || true)
  verdict=$(case $status in 0) echo pass ;; 1) echo fail ;; 3) echo unknown ;; *) echo "error $status" ;; esac)
  read -r wall kb < "$out/time.txt"
  echo "| $label | $format | $model | $ops | $verdict | $wall | $((kb / 1024)) |"
}
measure kv-100k faultline etcd "$kv/history.jsonl"
measure kv-100k etcd-robustness etcd "$out/kv-report"
measure kv-100k edn register "$out/kv.edn"
measure kv-100k edn kv "$out/kv-porcupine.edn"
measure register-100k faultline etcd "$register/history.jsonl"
measure register-100k edn register "$out/register.edn"
measure register-100k jepsen-log register "$out/register.log"
