#!/usr/bin/env python3
"""Which ICMP socket reachmon uses, decided by net.ipv4.ping_group_range and privileges, each in
a namespace of its own probing its loopback:
- ping sockets allowed: an unprivileged user probes with the ping-socket engine;
- ping sockets forbidden, root: the raw-socket fallback probes (IPv4 and IPv6);
- ping sockets forbidden, unprivileged: start-up fails with a message naming the sysctl.

Usage: test_engines.py REACHMON_BINARY WORKDIR
"""
import os
import shutil
import subprocess
import tempfile
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from reachmon_testlib import Reachmon, TestRun, require_root, sh, wait_for, write_json  # noqa: E402

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


class Namespace:
    def __init__(self, suffix, ping_range):
        self.name = f"rm{os.getpid() % 100000}{suffix}"
        self.ping_range = ping_range

    def __enter__(self):
        sh(f"ip netns add {self.name}")
        sh(f"ip -n {self.name} link set lo up")
        sh(f'ip netns exec {self.name} sysctl -q -w net.ipv4.ping_group_range="{self.ping_range}"')
        return self

    def __exit__(self, *exc):
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)


def write_config(path, port):
    write_json(path, {
        "listen": f"127.0.0.1:{port}",
        "defaults": {"interval": "100ms", "timeout": "80ms"},
        "sources": [{"name": "lo4", "address": "127.0.0.1"}, {"name": "lo6", "address": "::1"}],
        "targets": [{"name": "v4", "host": "127.0.0.1"}, {"name": "v6", "host": "::1"}],
    })
    os.chmod(path, 0o644)


def probe_and_check(t, label, binary, cfg, port, ns, engine, prefix=()):
    rm = Reachmon(binary, cfg, port, netns=ns, prefix=prefix, log_path=f"{cfg}.{ns}.log")
    try:
        rm.wait_ready()

        def replied(target):
            return rm.metrics().get("reachmon_probes_replied_total", target=target)
        wait_for(f"{label}: replies", lambda: replied("v4") >= 3 and replied("v6") >= 3)
        m = rm.metrics()
        t.check(f"{label}: IPv4 and IPv6 replies with engine {engine}",
                m.has("reachmon_build_info", engine=engine), m.text[-300:])
    finally:
        rm.stop()


def main():
    require_root()
    binary, work = sys.argv[1:3]
    os.makedirs(work, exist_ok=True)
    t = TestRun("engines")
    # The unprivileged runs must reach the config: a world-readable file in a fresh directory.
    shared = tempfile.mkdtemp(prefix="reachmon-engines-")
    os.chmod(shared, 0o755)
    cfg = os.path.join(shared, "engines.json")
    port = 9643
    write_config(cfg, port)

    with Namespace("open", "0 2147483647") as ns:
        probe_and_check(t, "unprivileged user", binary, cfg, port, ns.name, "icmp-dgram", NOBODY)

    with Namespace("closed", "1 0") as ns:
        probe_and_check(t, "root without ping sockets", binary, cfg, port, ns.name, "icmp-raw")
        r = subprocess.run(["ip", "netns", "exec", ns.name, *NOBODY, binary, "run", "--config", cfg],
                           capture_output=True, text=True, timeout=10)
        out = r.stdout + r.stderr
        t.check("unprivileged without ping sockets: exit 1 naming net.ipv4.ping_group_range",
                r.returncode == 1 and "net.ipv4.ping_group_range" in out and "CAP_NET_RAW" in out, out)
    shutil.rmtree(shared, ignore_errors=True)
    return t.close()


if __name__ == "__main__":
    sys.exit(main())
