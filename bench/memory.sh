#!/usr/bin/env bash
# Resident memory per path, with the status page's graphs (each path's PathHistory) and without
# ("web": {"graphs": false}): reachmon probes N loopback targets at 1 s from one source, in a
# private network namespace; VmRSS is read 10 s after the start and after three gzip scrapes and
# one request of "/" (100 paths, the default page size). Prints Markdown.
# Usage (root, after scripts/build): bench/memory.sh [BUILD_DIR] [--paths 10000,50000]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build
if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then build=$1; shift; fi
paths="10000,50000"
while [ $# -gt 0 ]; do
  case $1 in
    --paths) paths=$2; shift 2 ;;
    -h | --help) sed -n '2,6s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) echo "memory.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
bin=$build/service/reachmon
[ -x "$bin" ] || { echo "memory.sh: $bin is missing: run scripts/build first" >&2; exit 1; }
work=$(mktemp -d)
ns="rmmem$$"
pid=""
cleanup() {
  [ -z "$pid" ] || kill "$pid" 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM
ip netns add "$ns"
ip -n "$ns" link set lo up
ip -n "$ns" route add local 127.64.0.0/10 dev lo 2>/dev/null || true
ip netns exec "$ns" sysctl -q -w net.ipv4.ping_group_range="0 2147483647"

echo "Command: \`bench/memory.sh --paths $paths\`  "
echo "Date: $(date -u '+%Y-%m-%d %H:%M UTC'); commit $(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet || echo ' (working tree with uncommitted changes)')"
echo
echo "| paths | graphs | VmRSS | per path above 16 MiB |"
echo "|---|---|---|---|"
for n in ${paths//,/ }; do
  for graphs in true false; do
    python3 - "$work/c.json" "$n" "$graphs" <<'PY'
import json, sys
path, n, graphs = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "true"
json.dump({"listen": "127.0.0.1:9653", "min_send_gap": "10us", "web": {"graphs": graphs},
           "sources": [{"name": "lo", "address": "127.0.0.1"}],
           "targets": [{"name": f"t{i}", "host": f"127.{64 + i // 65536}.{i // 256 % 256}.{i % 256 + 1}"}
                       for i in range(n)]}, open(path, "w"))
PY
    ip netns exec "$ns" "$bin" run --config "$work/c.json" --log-level warn >"$work/log" 2>&1 &
    pid=$!
    sleep 10
    for _ in 1 2 3; do
      ip netns exec "$ns" curl -s -o /dev/null -H 'Accept-Encoding: gzip' http://127.0.0.1:9653/metrics
    done
    ip netns exec "$ns" curl -s -o /dev/null -H 'Accept-Encoding: gzip' http://127.0.0.1:9653/
    rss_kib=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
    kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
    python3 -c "import sys; n, kib = int(sys.argv[1]), int(sys.argv[2]); print(f'| {n:,} | {sys.argv[3]} | {kib / 1024:.1f} MiB | {(kib - 16 * 1024) * 1024 / n / 1024:.2f} KiB |')" "$n" "$rss_kib" "$graphs"
  done
done
