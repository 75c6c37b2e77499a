"""Which ICMP socket reachmon uses, decided by net.ipv4.ping_group_range and privileges, each in
a namespace of its own probing its loopback:
- ping sockets allowed: an unprivileged user probes with the ping-socket engine;
- ping sockets forbidden, root: the raw-socket fallback probes (IPv4 and IPv6);
- ping sockets forbidden, unprivileged: start-up fails with a message naming the sysctl.

Run by ctest (netns_engines): pytest test_engines.py --reachmon=BINARY --workdir=DIR
"""
import os
import shutil
import subprocess
import tempfile

import pytest
from reachmon_testlib import LISTEN_ANY_PORT, sh, wait_for, write_json

pytestmark = pytest.mark.root

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def namespace(suffix, ping_range):
    """A fresh network namespace with loopback up and the given ping_group_range; always deleted."""
    name = f"rm{os.getpid() % 100000}{suffix}"
    subprocess.run(["ip", "netns", "del", name], capture_output=True)
    sh(f"ip netns add {name}")
    try:
        sh(f"ip -n {name} link set lo up")
        sh(f'ip netns exec {name} sysctl -q -w net.ipv4.ping_group_range="{ping_range}"')
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


@pytest.fixture(scope="module")
def open_ns():
    yield from namespace("open", "0 2147483647")


@pytest.fixture(scope="module")
def closed_ns():
    yield from namespace("closed", "1 0")


@pytest.fixture(scope="module")
def shared_config():
    """The unprivileged runs must reach the config: a world-readable file in a fresh directory."""
    shared = tempfile.mkdtemp(prefix="reachmon-engines-")
    os.chmod(shared, 0o755)
    path = os.path.join(shared, "engines.json")
    write_json(path, {
        "listen": LISTEN_ANY_PORT,
        "defaults": {"interval": "100ms", "timeout": "80ms"},
        "sources": [{"name": "lo4", "address": "127.0.0.1"}, {"name": "lo6", "address": "::1"}],
        "targets": [{"name": "v4", "host": "127.0.0.1"}, {"name": "v6", "host": "::1"}],
    })
    os.chmod(path, 0o644)
    yield path
    shutil.rmtree(shared, ignore_errors=True)


def probes_with_engine(start_reachmon, workdir, cfg, ns, engine, prefix=()):
    rm = start_reachmon(cfg, netns=ns, prefix=prefix, log_path=os.path.join(workdir, f"{ns}.log"))

    def replied(target):
        return rm.metrics().get("reachmon_probes_replied_total", target=target)
    wait_for("IPv4 and IPv6 replies", lambda: replied("v4") >= 3 and replied("v6") >= 3)
    m = rm.metrics()
    # Both Linux engines take RTTs from the kernel's receive timestamps, and say so.
    assert m.has("reachmon_build_info", engine=engine, rtt_timestamps="kernel"), \
        f"expected engine {engine}:\n" + "\n".join(
            line for line in m.text.splitlines() if line.startswith("reachmon_build_info"))


def test_an_unprivileged_user_probes_with_ping_sockets(start_reachmon, workdir, shared_config,
                                                       open_ns):
    probes_with_engine(start_reachmon, workdir, shared_config, open_ns, "icmp-dgram", NOBODY)


def test_root_without_ping_sockets_probes_with_raw_sockets(start_reachmon, workdir, shared_config,
                                                           closed_ns):
    probes_with_engine(start_reachmon, workdir, shared_config, closed_ns, "icmp-raw")


def test_unprivileged_without_ping_sockets_fails_naming_the_sysctl(reachmon_bin, shared_config,
                                                                   closed_ns):
    r = subprocess.run(["ip", "netns", "exec", closed_ns, *NOBODY, reachmon_bin, "run",
                        "--config", shared_config], capture_output=True, text=True, timeout=10)
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert "net.ipv4.ping_group_range" in out and "CAP_NET_RAW" in out, out
