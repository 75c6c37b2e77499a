"""End-to-end on Linux: how sources follow their links and addresses, with real interfaces.

    monitor (M)                            upstream (U), answered by tests/tools/icmp_responder
    rot0  fd72:1::100/64, rotated     <->  rot1  fd72:1::1/64
    dwn0  10.72.2.2/24 fd72:2::2/64   <->  dwn1  10.72.2.1/24 fd72:2::1/64

Proves: rotating the IPv6 address of a source given by interface 40 times leaves reachmon with
as many open descriptors as before (the ping socket bound to each old address is closed), and a
source given by address whose link is down reports source_up 0 and source_unavailable (not
send_failed) until the link is up again, IPv4 and IPv6 alike. The namespaces are this test's own
(names carry "src" and the process id) and are always deleted.

Run by ctest (netns_sources):
    pytest test_sources.py --reachmon=BINARY --responder=ICMP_RESPONDER --workdir=DIR
"""
import os
import subprocess

import pytest
from reachmon_testlib import (LISTEN_ANY_PORT, Reachmon, read_json, sh, wait_for, wait_metrics,
                              write_json)

pytestmark = pytest.mark.root

ROTATIONS = 40
# Descriptors that may come and go besides the probe sockets (an HTTP connection of a scrape
# still being closed): far fewer than the one per rotation that a leak adds.
FD_SLACK = 3
ROT_TARGET, DOWN_TARGET4, DOWN_TARGET6 = "fd72:1::1", "10.72.2.1", "fd72:2::1"


def rotated(i):
    return f"fd72:1::{0x100 + i:x}"


class Hosts:
    """The two namespaces and the responder; close() deletes everything, whatever happened."""

    def __init__(self, workdir, responder):
        tag = f"rmsrc{os.getpid() % 100000}"
        self.m, self.u = f"{tag}m", f"{tag}u"
        self.stats = os.path.join(workdir, "sources-responder.json")
        self.log = open(os.path.join(workdir, "sources-responder.log"), "w")
        self.responder = None
        try:
            self._build(responder)
        except Exception:
            self.close()
            raise

    def _build(self, responder):
        m, u = self.m, self.u
        for ns in (m, u):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)  # a crashed run's
            sh(f"ip netns add {ns}")
            sh(f"ip -n {ns} link set lo up")
            # No duplicate address detection: addresses are usable the moment they are added.
            for key in ("net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0"):
                sh(f"ip netns exec {ns} sysctl -q -w {key}")
        for dev_m, dev_u in (("rot0", "rot1"), ("dwn0", "dwn1")):
            sh(f"ip -n {m} link add {dev_m} type veth peer name {dev_u} netns {u}")
        # dwn0's IPv6 address survives its link going down (by default the kernel deletes it,
        # which the source would see as "address gone", not as "link down").
        sh(f"ip netns exec {m} sysctl -q -w net.ipv6.conf.dwn0.keep_addr_on_down=1")
        sh(f"ip -n {m} addr add {rotated(0)}/64 dev rot0 nodad")
        sh(f"ip -n {m} addr add 10.72.2.2/24 dev dwn0")
        sh(f"ip -n {m} addr add fd72:2::2/64 dev dwn0 nodad")
        sh(f"ip -n {u} addr add {ROT_TARGET}/64 dev rot1 nodad")
        sh(f"ip -n {u} addr add {DOWN_TARGET4}/24 dev dwn1")
        sh(f"ip -n {u} addr add {DOWN_TARGET6}/64 dev dwn1 nodad")
        for ns, dev in ((m, "rot0"), (m, "dwn0"), (u, "rot1"), (u, "dwn1")):
            sh(f"ip -n {ns} link set {dev} up")
        sh(f'ip netns exec {m} sysctl -q -w net.ipv4.ping_group_range="0 2147483647"')
        for key in ("net.ipv4.icmp_echo_ignore_all=1", "net.ipv6.icmp.echo_ignore_all=1"):
            sh(f"ip netns exec {u} sysctl -q -w {key}")
        if os.path.exists(self.stats):
            os.remove(self.stats)
        self.responder = subprocess.Popen(
            ["ip", "netns", "exec", u, responder, "--stats", self.stats],
            stdout=self.log, stderr=subprocess.STDOUT)
        wait_for("the responder to write its ground truth", lambda: os.path.exists(self.stats))

    def truth(self, source, target):
        """Requests the responder has seen from `source` to `target`."""
        return read_json(self.stats).get(f"{source}>{target}", {}).get("requests", 0)

    def ip(self, args):
        sh(f"ip -n {self.m} {args}")

    def close(self):
        if self.responder and self.responder.poll() is None:
            self.responder.terminate()
            try:
                self.responder.wait(5)
            except subprocess.TimeoutExpired:
                self.responder.kill()
        self.log.close()
        for ns in (self.m, self.u):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


@pytest.fixture(scope="module")
def hosts(workdir, path_option):
    h = Hosts(workdir, path_option("responder"))
    try:
        yield h
    finally:
        h.close()


@pytest.fixture(scope="module")
def monitor(hosts, reachmon_bin, workdir):
    """reachmon in the monitor namespace, every path answered at least 3 times."""
    cfg = os.path.join(workdir, "sources.json")
    write_json(cfg, {
        "listen": LISTEN_ANY_PORT,
        "defaults": {"interval": "100ms", "timeout": "500ms"},
        "sources": [
            {"name": "rot6", "interface": "rot0", "family": "ipv6"},
            {"name": "down4", "address": "10.72.2.2"},
            {"name": "down6", "address": "fd72:2::2"},
        ],
        "targets": [
            {"name": "t-rot", "host": ROT_TARGET, "sources": ["rot6"]},
            {"name": "t-down4", "host": DOWN_TARGET4, "sources": ["down4"]},
            {"name": "t-down6", "host": DOWN_TARGET6, "sources": ["down6"]},
        ],
    })
    with Reachmon(reachmon_bin, cfg, netns=hosts.m) as rm:
        rm.wait_ready()

        def replied(src, tgt):
            return rm.metrics().get("reachmon_probes_replied_total", source=src, target=tgt)
        wait_for("3 replies on every path", lambda: all(
            replied(s, t) >= 3 for s, t in (("rot6", "t-rot"), ("down4", "t-down4"),
                                            ("down6", "t-down6"))), timeout=30)
        yield rm


def open_descriptors(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_rotating_an_interface_source_ipv6_address_leaks_no_descriptors(hosts, monitor):
    pid = monitor.proc.pid  # `ip netns exec` execs reachmon in place
    with open(f"/proc/{pid}/comm") as f:
        assert f.read().strip() == "reachmon"
    wait_for(f"a request from {rotated(0)}", lambda: hosts.truth(rotated(0), ROT_TARGET) >= 1)
    baseline = open_descriptors(pid)  # with the ping socket bound to the first address
    for i in range(1, ROTATIONS + 1):
        old, new = rotated(i - 1), rotated(i)
        hosts.ip(f"addr add {new}/64 dev rot0 nodad")
        hosts.ip(f"addr del {old}/64 dev rot0")
        # Each address is really sent from, so each gets a socket of its own.
        wait_for(f"a request from {new}", lambda: hosts.truth(new, ROT_TARGET) >= 1)
    last = rotated(ROTATIONS)
    wait_for(f"rot6 to send from {last}", lambda: monitor.metrics().has(
        "reachmon_source_info", source="rot6", address=last))
    counts = []

    def back_to_baseline():
        counts.append(open_descriptors(pid))
        return counts[-1] <= baseline + FD_SLACK
    wait_for(f"open descriptors back to {baseline} (+{FD_SLACK})", back_to_baseline)
    print(f"open descriptors: {baseline} before {ROTATIONS} rotations, {counts[-1]} after")
    before = monitor.metrics().get("reachmon_probes_replied_total", source="rot6", target="t-rot")
    wait_for("replies from the last address", lambda: monitor.metrics().get(
        "reachmon_probes_replied_total", source="rot6", target="t-rot") >= before + 3)


@pytest.mark.parametrize("src,tgt,address,target_address", [
    ("down4", "t-down4", "10.72.2.2", DOWN_TARGET4),
    ("down6", "t-down6", "fd72:2::2", DOWN_TARGET6),
], ids=["ipv4", "ipv6"])
def test_an_address_source_whose_link_is_down_is_unavailable(hosts, monitor, src, tgt, address,
                                                            target_address):
    def count(m, name, **kw):
        return m.get(name, source=src, target=tgt, **kw)

    hosts.ip("link set dwn0 down")
    try:
        assert address in sh(f"ip -n {hosts.m} addr show dev dwn0"), "the address left with the link"
        wait_for(f"{src} down", lambda: monitor.metrics().get("reachmon_source_up", source=src) == 0)
        before = monitor.metrics()
        requests_before = hosts.truth(address, target_address)

        def unavailable(m):
            return (count(m, "reachmon_probe_errors_total", reason="source_unavailable") -
                    count(before, "reachmon_probe_errors_total", reason="source_unavailable"))
        after = wait_metrics(f"{src} to count source_unavailable", monitor.metrics,
                             lambda m: unavailable(m) >= 5)
        assert (count(after, "reachmon_probe_errors_total", reason="send_failed") ==
                count(before, "reachmon_probe_errors_total", reason="send_failed")), \
            "probes from a source whose link is down counted as send_failed"
        assert count(after, "reachmon_probes_sent_total") == count(before, "reachmon_probes_sent_total")
        assert count(after, "reachmon_path_up") == 0
        assert after.get("reachmon_source_up", source=src) == 0
        assert after.has("reachmon_source_info", source=src, address="")
        assert hosts.truth(address, target_address) == requests_before
    finally:
        hosts.ip("link set dwn0 up")
    wait_for(f"{src} up", lambda: monitor.metrics().get("reachmon_source_up", source=src) == 1)
    resumed = monitor.metrics()
    wait_for(f"{src} replies again", lambda: count(
        monitor.metrics(), "reachmon_probes_replied_total") >=
        count(resumed, "reachmon_probes_replied_total") + 3)
    assert hosts.truth(address, target_address) > requests_before
