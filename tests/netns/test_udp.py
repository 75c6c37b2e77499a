"""UDP probes end to end on Linux, in the multi-homed topology of tests/support/topology.py:
both uplinks, IPv4 and IPv6, answered by tests/tools/icmp_responder in its UDP modes (echo
service, closed port answered with a crafted port unreachable) and by the upstream kernels
themselves (a port nobody listens on, unreachable and blackhole routes, TTL expiry).

Proves, with real packets, and every count against the responders' ground truth:
- each source's datagrams leave from that source (the responders saw only that uplink's monitor
  address), all from one source port per family;
- a closed port is reached, with an RTT that is the time the responder held the datagram (plus
  wire time only) and the TTL of the ICMP error; a port the kernel closes is reached too;
- an echo service is reached; lost echoes are timeouts; corrupted echoes are counted apart and
  never as replies; forged ones from another address are not counted;
- a port unreachable from another address than the target is dest_unreachable, not reached;
- an error quoting too little of the datagram to name the probe (RFC 792's minimum) is never
  matched: the probe times out and reachmon_unmatched_icmp_errors_total counts the error;
- an unreachable route is dest_unreachable, a blackhole times out, TTL 1 is ttl_expired;
- no send fails although every probe to a closed port leaves an error pending on the socket;
- switching a target from UDP to ICMP on reload makes a new series with the probe label.

Run by ctest (netns_udp):
    pytest test_udp.py --reachmon=BINARY --responder=ICMP_RESPONDER --workdir=DIR
"""
import ipaddress
import os

import pytest
from reachmon_testlib import (LISTEN_ANY_PORT, Reachmon, assert_promtool_clean, read_json,
                              wait_for, write_json)
from topology import Topology

pytestmark = pytest.mark.root

# As in test_multihomed.py: per probe, reachmon's RTT >= the responder's hold time, and exceeds
# it by wire and kernel time only (and, on a loaded machine, preemption). Over a path's mean:
RTT_BELOW_HOLD_MS = 0.1
RTT_ABOVE_HOLD_MS = 2.0

CLOSED, SHORT_QUOTE, OTHER_SENDER, ECHO, KERNEL_CLOSED = 33434, 33435, 33436, 7, 40000
SOURCES = {("a", "4"): ("isp-a", "10.71.1.2"), ("b", "4"): ("isp-b", "10.71.2.2"),
           ("a", "6"): ("isp-a-v6", "fd71:1::2"), ("b", "6"): ("isp-b-v6", "fd71:2::2")}


def addr(fam, n):
    return f"192.0.2.{n}" if fam == "4" else f"2001:db8::{n}"


class Path:
    def __init__(self, target, uplink, fam, host, port, responder="main", ttl=None):
        self.target, self.uplink, self.fam, self.host, self.port = target, uplink, fam, host, port
        self.source, self.source_address = SOURCES[(uplink, fam)]
        self.responder, self.ttl = responder, ttl

    def key(self):
        """The responder's ground-truth key of the path."""
        return f"udp {self.source_address}>{self.host}:{self.port}"

    def __repr__(self):
        return f"{self.source}->{self.target}"


def both(kind, fam, host, port, **kw):
    return [Path(f"{kind}{fam}", u, fam, host, port, **kw) for u in ("a", "b")]


CLOSED_PATHS = both("closed", "4", addr("4", 10), CLOSED) + both("closed", "6", addr("6", 10), CLOSED)
ECHO_PATHS = both("echo", "4", addr("4", 11), ECHO) + both("echo", "6", addr("6", 11), ECHO)
# Uplink B only: the kernel's own errors to a peer reset the token bucket that limits its
# unreachable-route errors to that peer (see test_an_unreachable_route_is_dest_unreachable).
KERNEL_PATHS = [Path(f"kernel{f}", "b", f, addr(f, 10), KERNEL_CLOSED) for f in "46"]
CORRUPT_PATHS = [Path("corrupt4", "a", "4", addr("4", 13), ECHO)]
SHORT_PATHS = [Path(f"short{f}", "a", f, addr(f, 10), SHORT_QUOTE, responder="short")
               for f in "46"]
OTHER_PATHS = [Path(f"other{f}", "a", f, addr(f, 10), OTHER_SENDER, responder="other")
               for f in "46"]
UNROUTED_PATHS = [Path("unrouted4", "a", "4", "203.0.113.1", CLOSED),
                  Path("unrouted6", "a", "6", "2001:db8:1::1", CLOSED)]
BLACKHOLE_PATHS = [Path("blackhole4", "a", "4", "203.0.113.129", CLOSED),
                   Path("blackhole6", "a", "6", "2001:db8:2::1", CLOSED)]
TTL_PATHS = [Path("far4", "b", "4", "198.51.100.50", CLOSED, ttl=1),
             Path("far6", "b", "6", "2001:db8::50", CLOSED, ttl=1)]
ALL_PATHS = (CLOSED_PATHS + ECHO_PATHS + KERNEL_PATHS + CORRUPT_PATHS + SHORT_PATHS +
             OTHER_PATHS + UNROUTED_PATHS + BLACKHOLE_PATHS + TTL_PATHS)


def config(interval="200ms", icmp_echo4=False):
    targets = {}
    for p in ALL_PATHS:
        t = targets.setdefault(p.target, {"name": p.target, "host": p.host, "probe": "udp",
                                          "port": p.port, "sources": []})
        t["sources"].append(p.source)
        if p.ttl:
            t["ttl"] = p.ttl
    if icmp_echo4:
        echo4 = targets["echo4"]
        del echo4["port"]
        echo4["probe"] = "icmp"
    return {
        "listen": LISTEN_ANY_PORT,
        "web": {"enable_reload": True},
        "defaults": {"interval": interval, "timeout": "150ms"},
        "sources": [{"name": name, "address": a} for name, a in SOURCES.values()],
        "targets": list(targets.values()),
    }


@pytest.fixture(scope="module")
def topo():
    with Topology() as t:
        # Upstream A: host unreachable for one prefix per family, silence for another.
        t.add_routes(t.a, "unreachable", "203.0.113.0/25", "2001:db8:1::/64")
        t.add_routes(t.a, "blackhole", "203.0.113.128/25", "2001:db8:2::/64")
        t.add_target_addresses(t.b, "2001:db8::12")  # B's forgeries come from here
        yield t


@pytest.fixture(scope="module")
def truth(topo, path_option, workdir):
    """Starts the responders; truth(name) reads that responder's ground truth."""
    responder = path_option("responder")
    runs = {
        # Uplink A: 5 ms, closed port and echo service; echoes to .13 are corrupted (every third
        # one instead of the real echo).
        "main-a": (topo.a, ["--delay-ms", "5", "--udp-closed", str(CLOSED), "--udp-echo",
                            str(ECHO), "--dest", addr("4", 13), "--corrupt-every", "3",
                            "--corrupt-kind", "last", "--corrupt-mode", "replace"]),
        # Uplink B: 25 ms, every fourth datagram lost; echoes are forged every third datagram
        # (a corrupted copy, and a perfect one from another address).
        "main-b": (topo.b, ["--delay-ms", "25", "--drop-every", "4", "--udp-closed", str(CLOSED),
                            "--udp-echo", str(ECHO), "--forge-from", "192.0.2.12",
                            "--forge-from6", "2001:db8::12",
                            "--dest", addr("4", 11), "--forge-every", "3",
                            "--dest", addr("6", 11), "--forge-every", "3"]),
        # A router quoting only the headers.
        "short-a": (topo.a, ["--udp-closed", str(SHORT_QUOTE), "--quote-bytes", "0"]),
        # A firewall answering for the target.
        "other-a": (topo.a, ["--udp-closed", str(OTHER_SENDER), "--unreach-from", "192.0.2.12",
                             "--unreach-from6", "2001:db8::11"]),
    }
    stats = {}
    for name, (ns, args) in runs.items():
        stats[name] = os.path.join(workdir, f"{name}.json")
        if os.path.exists(stats[name]):
            os.remove(stats[name])
        topo.start(ns, [responder, "--no-icmp", *args, "--stats", stats[name]],
                   os.path.join(workdir, f"responder-{name}.log"))
    for name, path in stats.items():
        wait_for(f"the responder to write {path}", lambda p=path: os.path.exists(p))
    return lambda name: read_json(stats[name])


def truth_of(truth, path):
    return truth(f"{path.responder}-{path.uplink}").get(path.key())


@pytest.fixture(scope="module")
def config_path(workdir):
    return os.path.join(workdir, "reachmon.json")


def reload(rm, config_path, cfg):
    write_json(config_path, cfg)
    code, body = rm.post("/-/reload")
    assert code == 200, f"POST /-/reload refused the edit: {code} {body}"


@pytest.fixture(scope="module")
def monitor(topo, truth, reachmon_bin, config_path):
    """reachmon in the monitor namespace, probing until every path has sent 14 probes (so the
    paths of the lossy uplink, which loses one in four, have 10 answers)."""
    write_json(config_path, config())
    with Reachmon(reachmon_bin, config_path, netns=topo.m) as rm:
        rm.wait_ready()

        def sent(p):
            return rm.metrics().get("reachmon_probes_sent_total", source=p.source,
                                    target=p.target, probe="udp")
        wait_for("14 probes on every path", lambda: all(sent(p) >= 14 for p in ALL_PATHS),
                 timeout=30)
        yield rm


@pytest.fixture(scope="module")
def frozen(monitor, truth, config_path):
    """Stops new probes with a reload to a 1 h interval (counters survive), waits until every
    probe has its outcome and nothing changes any more, then returns the metrics and a reader
    of the responders' ground truth, both taken at that point."""
    reload(monitor, config_path, config(interval="1h"))
    last = []

    def settled():
        m = monitor.metrics()
        now = [(m.get("reachmon_probes_sent_total", source=p.source, target=p.target),
                m.get("reachmon_probes_scheduled_total", source=p.source, target=p.target))
               for p in ALL_PATHS]
        stable, last[:] = now == last, now
        return m if stable and all(s == d for s, d in now) else None
    m = wait_for("every probe to have its outcome", settled, timeout=15, interval=0.5)
    snapshot = {n: truth(n) for n in ("main-a", "main-b", "short-a", "other-a")}
    return m, lambda path: snapshot[f"{path.responder}-{path.uplink}"].get(path.key())


def counts(m, p):
    def get(name, **kw):
        return m.get(name, source=p.source, target=p.target, **kw)
    return {
        "sent": get("reachmon_probes_sent_total"),
        "replied": get("reachmon_probes_replied_total"),
        "timed_out": get("reachmon_probes_timed_out_total"),
        "errors": m.total("reachmon_probe_errors_total", source=p.source, target=p.target),
        "corrupted": get("reachmon_corrupted_replies_total"),
        "duplicate": get("reachmon_duplicate_replies_total"),
        "late": get("reachmon_late_replies_total"),
    }


def error(m, p, reason):
    return m.get("reachmon_probe_errors_total", source=p.source, target=p.target, reason=reason)


def test_the_series_carry_the_probe_label(monitor):
    m = monitor.metrics()
    for p in ALL_PATHS:
        assert m.has("reachmon_probes_sent_total", source=p.source, target=p.target,
                     probe="udp"), p


def test_each_sources_datagrams_leave_from_that_source(monitor, truth):
    """The upstreams saw datagrams to the shared targets only from their own uplink's monitor
    address, and every datagram of a family left from one source port."""
    hosts = {p.host for p in CLOSED_PATHS + ECHO_PATHS}
    for uplink in ("a", "b"):
        seen = {k.split(">")[0][4:] for k in truth(f"main-{uplink}")
                if k.startswith("udp ") and k.split(">")[1].rsplit(":", 1)[0] in hosts}
        assert seen == {SOURCES[(uplink, "4")][1], SOURCES[(uplink, "6")][1]}, seen
    ports = {"4": set(), "6": set()}
    for name in ("main-a", "main-b", "short-a", "other-a"):
        for key, g in truth(name).items():
            if key.startswith("udp "):
                src = key[4:].split(">")[0]
                ports["4" if ipaddress.ip_address(src).version == 4 else "6"].update(g["sports"])
    assert len(ports["4"]) == 1 and len(ports["6"]) == 1, ports


@pytest.mark.parametrize("p", CLOSED_PATHS + ECHO_PATHS, ids=repr)
def test_counters_equal_the_responders_ground_truth(frozen, p):
    m, truth = frozen
    c, g = counts(m, p), truth(p)
    corrupted_only = error(m, p, "corrupted_reply")
    assert c["sent"] == g["requests"] >= 14, (c, g)
    assert c["replied"] == g["replied"], (c, g)
    # A lost datagram whose forged, corrupted echo came ends as corrupted_reply.
    assert c["timed_out"] + corrupted_only == g["dropped"], (c, g)
    assert c["errors"] == corrupted_only, (c, g)  # no send failed, no other outcome
    assert c["late"] == 0 and c["duplicate"] == g["duplicated"], (c, g)
    if p.uplink == "b":
        assert g["dropped"] >= 2, f"the lossy uplink lost only {g['dropped']}"
    else:
        assert g["dropped"] == 0 and c["replied"] == c["sent"], (c, g)
    if p.uplink == "b" and p in ECHO_PATHS:
        # Each forgery: a corrupted copy (counted apart) and a perfect one from another address
        # (a stray, counted nowhere on the path).
        assert g["forged"] >= 3 and 2 * c["corrupted"] == g["forged"], (c, g)
    else:
        assert c["corrupted"] == 0, (c, g)


@pytest.mark.parametrize("p", CLOSED_PATHS + ECHO_PATHS, ids=repr)
def test_mean_rtt_matches_the_responders_hold_time(frozen, p):
    """Over every answer of the path, reachmon's mean RTT (to the port unreachable, or to the
    echo) is the responder's mean hold time plus wire time only."""
    m, truth = frozen
    g = truth(p)
    count = m.get("reachmon_rtt_seconds_count", source=p.source, target=p.target)
    rtt = 1000 * m.get("reachmon_rtt_seconds_sum", source=p.source, target=p.target) / count
    hold = g["hold_sum_ns"] / g["hold_count"] / 1e6
    detail = f"{p}: mean RTT {rtt:.3f} ms, mean hold {hold:.3f} ms over {g['hold_count']} answers"
    print(detail)
    assert count == g["hold_count"] >= 10, detail
    assert hold - RTT_BELOW_HOLD_MS <= rtt <= hold + RTT_ABOVE_HOLD_MS, detail


@pytest.mark.parametrize("p", [p for p in CLOSED_PATHS if p.uplink == "a"], ids=repr)
def test_a_port_unreachables_ttl_is_the_errors(frozen, p):
    m, _ = frozen
    # The responder sends it from the upstream itself, with the kernel's default TTL, one hop.
    assert m.get("reachmon_reply_ttl", source=p.source, target=p.target) == 64


@pytest.mark.parametrize("p", KERNEL_PATHS, ids=repr)
def test_a_port_the_kernel_closes_is_reached(frozen, p):
    m, _ = frozen
    c = counts(m, p)
    assert c["sent"] >= 10 and c["replied"] == c["sent"], c
    assert c["timed_out"] == 0 and c["errors"] == 0, c


def test_corrupted_echoes_are_counted_apart_never_as_replies(frozen):
    m, truth = frozen
    p = CORRUPT_PATHS[0]
    c, g = counts(m, p), truth(p)
    assert g["corrupted"] >= 3 and c["corrupted"] == g["corrupted"], (c, g)
    assert c["replied"] == g["replied"] == g["requests"] - g["corrupted_only"], (c, g)
    # Replaced echoes: their probe saw only a corrupted answer.
    assert error(m, p, "corrupted_reply") == g["corrupted_only"], (c, g)
    assert c["timed_out"] == 0, c


@pytest.mark.parametrize("p", OTHER_PATHS, ids=repr)
def test_port_unreachable_from_another_address_is_dest_unreachable(frozen, p):
    m, truth = frozen
    c, g = counts(m, p), truth(p)
    assert c["replied"] == 0, c
    assert error(m, p, "dest_unreachable") == g["replied"] == c["sent"] >= 10, (c, g)


def test_an_error_quoting_only_the_headers_is_never_matched(frozen):
    m, truth = frozen
    for p in SHORT_PATHS:
        c = counts(m, p)
        assert c["replied"] == 0 and c["errors"] == 0, (p, c)
        assert c["timed_out"] == c["sent"] >= 10, (p, c)
    errors_sent = sum(truth(p)["replied"] for p in SHORT_PATHS)
    assert m.get("reachmon_unmatched_icmp_errors_total") == errors_sent >= 20


@pytest.mark.parametrize("p", UNROUTED_PATHS, ids=repr)
def test_an_unreachable_route_is_dest_unreachable(frozen, p):
    m, _ = frozen
    c = counts(m, p)
    unreachable = error(m, p, "dest_unreachable")
    assert c["replied"] == 0 and unreachable + c["timed_out"] == c["sent"] >= 10, c
    if p.fam == "6":
        assert unreachable == c["sent"], c
    else:
        # Linux limits the host unreachables of its unreachable routes per destination host
        # (net.ipv4.route.error_cost and error_burst, global sysctls left alone here): a burst
        # of 5, then one a second.
        assert unreachable >= 5, c


@pytest.mark.parametrize("p", BLACKHOLE_PATHS, ids=repr)
def test_a_blackhole_times_out(frozen, p):
    m, _ = frozen
    c = counts(m, p)
    assert c["timed_out"] == c["sent"] >= 10 and c["errors"] == 0, c


@pytest.mark.parametrize("p", TTL_PATHS, ids=repr)
def test_ttl_expiry_is_counted(frozen, p):
    m, _ = frozen
    c = counts(m, p)
    assert error(m, p, "ttl_expired") == c["sent"] >= 10, c
    assert c["replied"] == 0 and c["timed_out"] == 0, c


def test_no_reply_was_a_stray_but_the_forged_ones(frozen):
    """The perfect forgeries from another address are the only replies matching no probe."""
    m, truth = frozen
    forged = sum(truth(p)["forged"] for p in ECHO_PATHS if p.uplink == "b")
    assert m.get("reachmon_invalid_replies_total") == forged // 2


def test_promtool_check_metrics_is_clean(frozen):
    assert_promtool_clean(frozen[0].text)


def test_switching_a_target_to_icmp_starts_new_series(frozen, monitor, config_path):
    reload(monitor, config_path, config(icmp_echo4=True))
    for p in [p for p in ECHO_PATHS if p.target == "echo4"]:
        wait_for(f"{p} to send ICMP", lambda p=p: monitor.metrics().has(
            "reachmon_probes_sent_total", source=p.source, target=p.target, probe="icmp"))
        m = monitor.metrics()
        assert not m.has("reachmon_probes_sent_total", source=p.source, target=p.target,
                         probe="udp"), p
        # A new path: its counters started again (the UDP path had sent >= 10).
        assert m.get("reachmon_probes_sent_total", source=p.source, target=p.target) < 10


def test_reachmon_exits_cleanly_on_sigterm(monitor):
    rc = monitor.stop()
    assert rc == 0, monitor.read_log()[-2000:]
