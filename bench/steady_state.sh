#!/usr/bin/env bash
# Measures the probe loop's steady state on loopback, inside a private network namespace:
#   1. heap allocations per probe (valgrind's count over two run lengths; the difference is
#      what the extra probes allocated), with 100 paths at 20 ms;
#   2. CPU and memory with 10,000 paths at a 1 s interval (utime+stime from /proc/PID/stat).
# Usage (root): bench/steady_state.sh [BUILD_DIR]   Results are printed as Markdown.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$root/build}/service/reachmon
work=$(mktemp -d)
ns="rmbench$$"
cleanup() { ip netns del "$ns" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link set lo up
ip netns exec "$ns" sysctl -q -w net.ipv4.ping_group_range="0 2147483647"

python3 - "$work" <<'PY'
import json, sys
w = sys.argv[1]
json.dump({"listen": "127.0.0.1:9651", "defaults": {"interval": "20ms", "timeout": "10ms"},
           "sources": [{"name": "lo", "address": "127.0.0.1"}],
           "targets": [{"name": f"t{i}", "host": f"127.0.1.{i + 1}"} for i in range(100)]},
          open(f"{w}/alloc.json", "w"))
json.dump({"listen": "127.0.0.1:9652", "sources": [{"name": "lo", "address": "127.0.0.1"}],
           "targets": [{"name": f"t{i}", "host": f"127.0.{i // 250}.{i % 250 + 1}"}
                       for i in range(10000)]},
          open(f"{w}/10k.json", "w"))
PY

allocs() {  # allocations of a run lasting $1 seconds
  local out
  out=$(ip netns exec "$ns" timeout -s TERM "$1" valgrind --tool=memcheck "$bin" run \
    --config "$work/alloc.json" --log-level warn 2>&1 || true)
  sed -n 's/.*total heap usage: \([0-9,]*\) allocs.*/\1/p' <<<"$out" | tr -d ,
}
a3=$(allocs 3)
a9=$(allocs 9)
probes=$((100 * 50 * 6))  # 100 paths x 50 probes/s x 6 extra seconds

ip netns exec "$ns" "$bin" run --config "$work/10k.json" --log-level warn &
pid=$!
sleep 3
t0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
sleep 20
t1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
timeouts=$(ip netns exec "$ns" curl -s 127.0.0.1:9652/metrics |
  awk '/^reachmon_probes_timed_out_total/ {s += $2} END {print s + 0}')
kill "$pid"
wait "$pid" || true
hz=$(getconf CLK_TCK)

cat <<MD
| measurement | value |
|---|---|
| heap allocations, 3 s run / 9 s run (100 paths at 20 ms) | $a3 / $a9 |
| extra allocations per extra probe | $(python3 -c "print(f'{($a9 - $a3) / $probes:.4f}')") (the remainder is the config file check once a second) |
| CPU, 10,000 paths at 1 s, over 20 s | $(python3 -c "print(f'{($t1 - $t0) / $hz / 20 * 100:.1f} % of one core')") |
| RSS, 10,000 paths | $((rss / 1024)) MiB |
| timeouts on loopback, 10,000 paths, 23 s | $timeouts |
MD
