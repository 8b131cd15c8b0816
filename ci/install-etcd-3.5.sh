#!/usr/bin/env bash
# A second real etcd, for upgrade runs between two versions: Debian
# trixie's etcd-server 3.5.16 (a static Go binary that runs on bookworm),
# fetched from Debian's archive, checked against its SHA-256 and unpacked
# into DIR (not installed into the system, no apt source added). Prints the
# binary's path. Nothing is fetched when DIR already holds it.
#
# Usage: ci/install-etcd-3.5.sh DIR
#   then: FAULTLINE_ETCD=DIR/etcd FAULTLINE_ETCD_OLD=/usr/bin/etcd faultline run --target etcd ...
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: ci/install-etcd-3.5.sh DIR" >&2; exit 2; }
dir=$1
version=3.5.16
deb=etcd-server_${version}-4_amd64.deb
url=${FAULTLINE_DEBIAN_MIRROR:-http://deb.debian.org/debian}/pool/main/e/etcd/$deb
sha256=0875921bb0d023f2af9b8e15cdfbe417a03e65731345fb832c40f9c2dd72967b

# The version is read whole before it is matched: `etcd --version | grep -q`
# under pipefail fails whenever grep exits before etcd has written its last
# line (SIGPIPE), which a loaded machine made happen in CI.
is_wanted() { local v; v=$("$1" --version 2>/dev/null) || return 1; grep -q "etcd Version: $version\$" <<<"$v"; }

if [ -x "$dir/etcd" ] && is_wanted "$dir/etcd"; then
  echo "$dir/etcd"
  exit 0
fi
[ "$(dpkg --print-architecture 2>/dev/null || echo unknown)" = amd64 ] \
  || { echo "ci/install-etcd-3.5.sh: Debian's $deb is for amd64 only" >&2; exit 2; }
mkdir -p "$dir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
curl -fsS --retry 3 -o "$work/$deb" "$url" || { echo "ci/install-etcd-3.5.sh: cannot fetch $url" >&2; exit 1; }
echo "$sha256  $work/$deb" | sha256sum -c --quiet - \
  || { echo "ci/install-etcd-3.5.sh: $url: SHA-256 differs from $sha256" >&2; exit 1; }
dpkg-deb -x "$work/$deb" "$work/root"
install -m 0755 "$work/root/usr/bin/etcd" "$dir/etcd"
is_wanted "$dir/etcd" \
  || { echo "ci/install-etcd-3.5.sh: $dir/etcd is not etcd $version" >&2; exit 1; }
echo "$dir/etcd"
