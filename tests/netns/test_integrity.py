"""Trustworthy numbers, end to end on Linux, in the multi-homed topology of
tests/support/topology.py, answered by tests/tools/icmp_responder, which records ground truth.

Proves, with real packets:
- a reply whose ICMP data differs from the request's (a byte at the start, middle or end, one
  byte less or more, or cut below reachmon's probe identity) counts as a corrupted reply and
  never as a reply, duplicate or RTT sample; the real reply that follows still answers the probe,
  with its own RTT; a probe answered only by corrupted replies ends as corrupted_reply;
- a path whose RTT exceeds its interval (timeout > interval) has several probes in flight and
  loses none;
- every probe that comes due has exactly one outcome: replied + timed_out + errors = scheduled,
  so the loss of a source without an address is exactly 1 (1 - Δreplied/Δscheduled);
- reachmon_source_up keeps its series across address changes, reachmon_source_info follows them;
- RTTs come from kernel timestamps (reachmon_build_info{rtt_timestamps="kernel"}).
Every count is compared with the responder's ground truth, every RTT with the time the responder
measured it held the requests (never with a configured delay).

Run by ctest (netns_integrity):
    pytest test_integrity.py --reachmon=BINARY --responder=ICMP_RESPONDER --workdir=DIR
"""
import os
import subprocess

import pytest
from reachmon_testlib import (LISTEN_ANY_PORT, Reachmon, assert_promtool_clean, read_json,
                              wait_for, write_json)
from topology import Topology

pytestmark = pytest.mark.root

# As in test_multihomed.py: per probe, reachmon's RTT >= the responder's hold time, and exceeds
# it by wire and kernel time (and, on a loaded machine, preemption between a clock read and the
# following sendmsg on either side). Over the mean of a path's probes:
RTT_BELOW_HOLD_MS = 0.1
RTT_ABOVE_HOLD_MS = 2.0

INTERVAL, TIMEOUT = "200ms", "1s"
INTERVAL_S = 0.2

# Reasons of probes that were never sent (at their due time nothing could be sent).
NOT_SENT = ("source_unavailable", "resolve_failed", "send_failed")

# The monitor's uplink A addresses: every path of this module but the B ones leaves through A.
SOURCE_A = {"4": ("isp-a", "10.71.1.2"), "6": ("isp-a-v6", "fd71:1::2")}


def address(fam, n):
    return f"192.0.2.{n}" if fam == "4" else f"2001:db8::{n}"


class Path:
    """One path of the module: the responder behind uplink A (or B) answers its target as
    `responder_args` say (options following --dest ADDRESS)."""

    def __init__(self, target, fam, host, responder_args=(), source=None, uplink="a"):
        self.target, self.fam, self.host = target, fam, host
        self.source, self.source_address = source or SOURCE_A[fam]
        self.responder_args = list(responder_args)
        self.uplink = uplink

    @property
    def pair(self):
        """The responder's ground-truth key."""
        return f"{self.source_address}>{self.host}"

    def __repr__(self):
        return f"{self.source}->{self.target}"


KINDS = ("first", "middle", "last", "truncate", "extend", "short")
# Every 2nd request also gets a corrupted reply, at once; the real one follows 20 ms later, so an
# RTT taken from the corrupted reply would be far below the responder's hold time.
CORRUPTED = [Path(f"c{fam}-{kind}", fam, address(fam, 20 + i),
                  ["--delay-ms", "20", "--corrupt-every", "2", "--corrupt-kind", kind,
                   "--corrupt-mode", "before"])
             for fam in "46" for i, kind in enumerate(KINDS)]
# Every 3rd request is answered by a corrupted reply only: after the hold, instead of the real
# reply, or at once and then never by a real one (the request is dropped).
REPLACED = [Path(f"r{fam}-{kind}", fam, address(fam, 30 + i),
                 ["--delay-ms", "5", "--corrupt-every", "3", "--corrupt-kind", kind,
                  "--corrupt-mode", "replace"])
            for fam in "46" for i, kind in enumerate(("middle", "truncate"))] + \
           [Path(f"d{fam}-{kind}", fam, address(fam, 32),
                 ["--delay-ms", "5", "--corrupt-every", "3", "--corrupt-kind", kind,
                  "--corrupt-mode", "before", "--drop-every", "3"])
            for fam, kind in (("4", "last"), ("6", "first"))]
# RTT well above the interval: several probes in flight.
SLOW = [Path(f"s{fam}", fam, address(fam, 40), ["--delay-ms", "500"]) for fam in "46"]
# Clean paths to the shared targets through both uplinks; B's sources lose their address below.
HEALTHY = [Path("t4", "4", "192.0.2.10"), Path("t6", "6", "2001:db8::10")]
UPLINK_B = [Path("t4", "4", "192.0.2.10", source=("isp-b", "10.71.2.2"), uplink="b"),
            Path("t6", "6", "2001:db8::10", source=("isp-b-v6", "fd71:2::2"), uplink="b")]
PATHS = CORRUPTED + REPLACED + SLOW + HEALTHY + UPLINK_B


def config(interval=INTERVAL):
    targets = {}
    for p in PATHS:
        t = targets.setdefault(p.target, {"name": p.target, "host": p.host, "sources": []})
        t["sources"].append(p.source)
    return {
        "listen": LISTEN_ANY_PORT,
        "web": {"enable_reload": True},
        "defaults": {"interval": interval, "timeout": TIMEOUT},
        "sources": [
            {"name": "isp-a", "interface": "a0"},
            {"name": "isp-a-v6", "interface": "a0", "family": "ipv6"},
            {"name": "isp-b", "interface": "b0"},
            {"name": "isp-b-v6", "address": "fd71:2::2"},
        ],
        "targets": list(targets.values()),
    }


def outcomes(m, p):
    """replied + timed_out + errors over every reason, of one path."""
    return (m.get("reachmon_probes_replied_total", source=p.source, target=p.target) +
            m.get("reachmon_probes_timed_out_total", source=p.source, target=p.target) +
            m.total("reachmon_probe_errors_total", source=p.source, target=p.target))


def assert_outcomes_within_scheduled(m):
    """In every scrape, per path: the outcomes never exceed the probes scheduled (a scrape reads
    the outcomes first); returns the largest shortfall seen."""
    gap = 0
    for p in PATHS:
        scheduled = m.get("reachmon_probes_scheduled_total", source=p.source, target=p.target)
        done = outcomes(m, p)
        assert done <= scheduled, \
            f"{p}: replied + timed_out + errors = {done:.0f} > scheduled {scheduled:.0f}"
        gap = max(gap, scheduled - done)
    return gap


def scrape(rm):
    """Every scrape of this module checks the accounting invariant on every path."""
    m = rm.metrics()
    assert_outcomes_within_scheduled(m)
    return m


@pytest.fixture(scope="module")
def topo():
    """The namespaces; deleted (and the responders stopped) whatever happens."""
    with Topology() as t:
        t.add_target_addresses(t.a, *{p.host for p in PATHS if p.uplink == "a"} - {"192.0.2.10",
                                                                                "2001:db8::10"})
        yield t


@pytest.fixture(scope="module")
def truth(topo, path_option, workdir):
    """Starts the two responders; truth("a"|"b") reads that responder's ground truth."""
    responder = path_option("responder")
    stats = {"a": os.path.join(workdir, "integrity-a.json"),
             "b": os.path.join(workdir, "integrity-b.json")}
    for path in stats.values():  # a previous run's
        if os.path.exists(path):
            os.remove(path)
    per_dest = [arg for p in PATHS if p.responder_args
                for arg in ["--dest", p.host, *p.responder_args]]
    topo.start(topo.a, [responder, "--delay-ms", "1", "--stats", stats["a"], *per_dest],
               os.path.join(workdir, "integrity-responder-a.log"))
    topo.start(topo.b, [responder, "--delay-ms", "1", "--stats", stats["b"]],
               os.path.join(workdir, "integrity-responder-b.log"))
    for path in stats.values():
        wait_for(f"the responder to write {path}", lambda: os.path.exists(path))
    return lambda uplink: read_json(stats[uplink])


@pytest.fixture(scope="module")
def config_path(workdir):
    return os.path.join(workdir, "integrity.json")


@pytest.fixture(scope="module")
def monitor(topo, truth, reachmon_bin, config_path):
    """reachmon in the monitor namespace, probing until every path has 10 replies and the
    responder has sent enough corrupted replies on each corrupting path."""
    write_json(config_path, config())
    with Reachmon(reachmon_bin, config_path, netns=topo.m,
                  log_path=config_path + ".log") as rm:
        rm.wait_ready()

        def enough():
            m = scrape(rm)
            if not all(m.get("reachmon_probes_replied_total", source=p.source,
                             target=p.target) >= 10 for p in PATHS):
                return False
            a = truth("a")
            return (all(a.get(p.pair, {}).get("corrupted", 0) >= 6 for p in CORRUPTED) and
                    all(a.get(p.pair, {}).get("corrupted_only", 0) >= 4 for p in REPLACED))
        wait_for("10 replies on every path and enough corrupted replies", enough, timeout=60,
                 interval=0.2)
        yield rm


def test_rtts_come_from_kernel_timestamps(monitor):
    m = scrape(monitor)
    assert m.has("reachmon_build_info", engine="icmp-dgram", rtt_timestamps="kernel"), \
        "\n".join(line for line in m.text.splitlines() if line.startswith("reachmon_build_info"))


def test_outcomes_never_exceed_scheduled_in_any_scrape(monitor):
    """30 scrapes while every path probes (and every other scrape of this module, through
    scrape()): per path, replied + timed_out + errors <= scheduled."""
    gaps = []

    def thirty():
        gaps.append(assert_outcomes_within_scheduled(monitor.metrics()))
        return len(gaps) >= 30
    wait_for("30 scrapes", thirty, timeout=60)
    print(f"largest scheduled - outcomes of a path in one scrape: {max(gaps):.0f}")


@pytest.mark.parametrize("p", SLOW, ids=repr)
def test_a_path_slower_than_its_interval_has_several_probes_in_flight(monitor, p):
    def in_flight():
        c = counts(scrape(monitor), p)
        return c["sent"] - (c["replied"] + c["timed_out"] + c["errors"] - c["not_sent"]) >= 2
    wait_for(f"2 probes of {p} in flight at once", in_flight, timeout=20)


def source_series(m, name, src):
    return m.series(name, source=src)


@pytest.mark.parametrize("lost,healthy,delete,restore,uplink", [
    (UPLINK_B[0], HEALTHY[0], "addr del 10.71.2.2/24 dev b0", "addr add 10.71.2.2/24 dev b0", 2),
    (UPLINK_B[1], HEALTHY[1], "addr del fd71:2::2/64 dev b0", "addr add fd71:2::2/64 dev b0 nodad",
     2),
], ids=["interface source", "address source"])
def test_a_source_without_address_has_loss_exactly_1(monitor, topo, lost, healthy, delete,
                                                     restore, uplink):
    """Its due probes keep being scheduled and end as source_unavailable while nothing is sent:
    over a window after the loss, 1 - Δreplied/Δscheduled is exactly 1 for its path and 0 for a
    healthy one. reachmon_source_up keeps its one series; reachmon_source_info shows the
    address, none, then the address again."""
    src = lost.source
    start = scrape(monitor)
    up_series = source_series(start, "reachmon_source_up", src)
    assert len(up_series) == 1 and up_series[0][1] == 1, up_series
    assert "address" not in up_series[0][0], up_series
    assert source_series(start, "reachmon_source_info", src) == \
        [({"source": src, "address": lost.source_address}, 1)]

    subprocess.run(f"ip -n {topo.m} {delete}", shell=True, check=True)
    try:
        def down():
            m = scrape(monitor)
            return m if m.get("reachmon_source_up", source=src) == 0 else None
        before = wait_for(f"{src} down", down)

        def delta(m, p, name, **kw):
            return (m.get(name, source=p.source, target=p.target, **kw) -
                    before.get(name, source=p.source, target=p.target, **kw))

        def window():
            m = scrape(monitor)
            return m if (delta(m, lost, "reachmon_probe_errors_total",
                               reason="source_unavailable") >= 5 and
                         delta(m, healthy, "reachmon_probes_scheduled_total") >= 5) else None
        after = wait_for(f"5 source_unavailable on {lost}, 5 outcomes on {healthy}", window,
                         timeout=20)
        assert source_series(after, "reachmon_source_up", src) == [(up_series[0][0], 0)]
        assert source_series(after, "reachmon_source_info", src) == \
            [({"source": src, "address": ""}, 1)]

        scheduled = delta(after, lost, "reachmon_probes_scheduled_total")
        replied = delta(after, lost, "reachmon_probes_replied_total")
        unavailable = delta(after, lost, "reachmon_probe_errors_total",
                            reason="source_unavailable")
        timed_out = delta(after, lost, "reachmon_probes_timed_out_total")  # sent before the loss
        assert delta(after, lost, "reachmon_probes_sent_total") == 0, f"{lost} still sends"
        assert scheduled == unavailable + timed_out, \
            (f"{lost}: scheduled +{scheduled:.0f}, source_unavailable +{unavailable:.0f}, "
             f"timed out +{timed_out:.0f}")
        assert 1 - replied / scheduled == 1, f"{lost}: {replied:.0f} replies without an address"
        h_scheduled = delta(after, healthy, "reachmon_probes_scheduled_total")
        h_replied = delta(after, healthy, "reachmon_probes_replied_total")
        assert 1 - h_replied / h_scheduled == 0, \
            f"{healthy}: {h_replied:.0f} replied of {h_scheduled:.0f} scheduled"
    finally:
        subprocess.run(f"ip -n {topo.m} {restore}", shell=True, check=True)
        topo.routes(uplink)

    def back():
        m = scrape(monitor)
        return m if (m.get("reachmon_path_up", source=src, target=lost.target) == 1 and
                     m.get("reachmon_source_up", source=src) == 1) else None
    m = wait_for(f"{lost} back up", back, timeout=20)
    assert source_series(m, "reachmon_source_up", src) == up_series
    assert source_series(m, "reachmon_source_info", src) == \
        [({"source": src, "address": lost.source_address}, 1)]


def reload(rm, config_path, cfg):
    write_json(config_path, cfg)
    code, body = rm.post("/-/reload")
    assert code == 200, f"POST /-/reload refused the edit: {code} {body}"


@pytest.fixture(scope="module")
def frozen(monitor, truth, config_path):
    """Freezes every path with a reload to a 1 h interval (counters survive), waits until every
    probe has its outcome, nothing is in flight, and the counters and the responders' ground
    truth stand still, then returns reachmon's metrics and both ground truths from that point."""
    reload(monitor, config_path, config(interval="1h"))
    last = []

    def settled():
        m = scrape(monitor)
        now = [truth("a"), truth("b")] + [counts(m, p) for p in PATHS]
        # Nothing in flight: every sent probe and every probe not sent has its outcome.
        done = all(c["scheduled"] == c["replied"] + c["timed_out"] + c["errors"] and
                   c["sent"] == c["scheduled"] - c["not_sent"] for c in now[2:])
        stable = now == last
        last[:] = now
        return (m, {"a": now[0], "b": now[1]}) if done and stable else None
    return wait_for("every probe to settle after the freeze", settled, timeout=20, interval=0.5)


def counts(m, p):
    def get(name, **kw):
        return m.get(name, source=p.source, target=p.target, **kw)
    return {
        "scheduled": get("reachmon_probes_scheduled_total"),
        "sent": get("reachmon_probes_sent_total"),
        "replied": get("reachmon_probes_replied_total"),
        "timed_out": get("reachmon_probes_timed_out_total"),
        "corrupted": get("reachmon_corrupted_replies_total"),
        "corrupted_reply": get("reachmon_probe_errors_total", reason="corrupted_reply"),
        "duplicate": get("reachmon_duplicate_replies_total"),
        "late": get("reachmon_late_replies_total"),
        "errors": m.total("reachmon_probe_errors_total", source=p.source, target=p.target),
        "not_sent": sum(get("reachmon_probe_errors_total", reason=r) for r in NOT_SENT),
        "rtt_count": get("reachmon_rtt_seconds_count"),
        "rtt_sum": get("reachmon_rtt_seconds_sum"),
    }


def assert_rtt_is_the_real_replys(c, g, p):
    """Over the same probes (every valid reply of the path), reachmon's mean RTT is the mean time
    the responder held the requests it really answered, plus wire time only."""
    assert c["rtt_count"] == g["hold_count"] == g["replied"], \
        f"{p}: reachmon has {c['rtt_count']:.0f} RTTs, the responder {g['hold_count']} hold times"
    rtt = 1000 * c["rtt_sum"] / c["rtt_count"]
    hold = g["hold_sum_ns"] / g["hold_count"] / 1e6
    detail = (f"{p}: mean RTT {rtt:.3f} ms, mean hold {hold:.3f} ms "
              f"(min {g['hold_min_ns'] / 1e6:.3f}, max {g['hold_max_ns'] / 1e6:.3f}) "
              f"over {g['hold_count']} replies")
    print(detail)
    assert hold - RTT_BELOW_HOLD_MS <= rtt <= hold + RTT_ABOVE_HOLD_MS, detail
    return rtt


@pytest.mark.parametrize("p", PATHS, ids=repr)
def test_outcomes_equal_scheduled_once_settled(frozen, p):
    m, _ = frozen
    c = counts(m, p)
    assert c["replied"] + c["timed_out"] + c["errors"] == c["scheduled"], c
    assert c["sent"] == c["scheduled"] - c["not_sent"], c
    assert c["scheduled"] >= 10, c


@pytest.mark.parametrize("p", CORRUPTED, ids=repr)
def test_a_corrupted_reply_before_the_real_one_is_counted_apart(frozen, p):
    """Every 2nd request got a corrupted reply at once and the real one after the hold: each
    probe is answered by its real reply, with the real reply's RTT; the corrupted replies are
    counted as such and as nothing else."""
    m, truth = frozen
    g, c = truth[p.uplink][p.pair], counts(m, p)
    assert c["sent"] == g["requests"], (c, g)
    assert g["dropped"] == g["corrupted_only"] == g["duplicated"] == 0, g
    assert g["corrupted"] >= 6, g
    assert c["corrupted"] == g["corrupted"], \
        f"{p}: reachmon counted {c['corrupted']:.0f} corrupted replies, {g['corrupted']} were sent"
    assert c["replied"] == g["replied"] == g["requests"], (c, g)
    assert c["duplicate"] == 0, f"{p}: {c['duplicate']:.0f} corrupted replies counted as duplicates"
    assert c["late"] == c["timed_out"] == c["corrupted_reply"] == 0, c
    assert_rtt_is_the_real_replys(c, g, p)


@pytest.mark.parametrize("p", REPLACED, ids=repr)
def test_a_probe_answered_only_by_a_corrupted_reply_ends_as_corrupted_reply(frozen, p):
    """Every 3rd request got a corrupted reply and no real one: those probes end as
    errors{reason="corrupted_reply"} at their timeout, neither replied nor timed out."""
    m, truth = frozen
    g, c = truth[p.uplink][p.pair], counts(m, p)
    assert c["sent"] == g["requests"], (c, g)
    assert g["corrupted_only"] == g["corrupted"] >= 4 and g["dropped"] in (0, g["corrupted"]), g
    assert c["corrupted_reply"] == g["corrupted_only"], \
        f"{p}: {c['corrupted_reply']:.0f} corrupted_reply errors, {g['corrupted_only']} replaced"
    assert c["corrupted"] == g["corrupted"], (c, g)
    assert c["timed_out"] == 0, f"{p}: {c['timed_out']:.0f} probes ended as timeouts"
    assert c["replied"] == g["replied"] == g["requests"] - g["corrupted_only"], (c, g)
    assert c["duplicate"] == c["late"] == 0, c
    assert c["errors"] == c["corrupted_reply"], c
    assert_rtt_is_the_real_replys(c, g, p)


@pytest.mark.parametrize("p", SLOW, ids=repr)
def test_a_path_slower_than_its_interval_loses_nothing(frozen, p):
    m, truth = frozen
    g, c = truth[p.uplink][p.pair], counts(m, p)
    assert c["sent"] == g["requests"] == g["replied"] == c["replied"], (c, g)
    assert c["timed_out"] == c["errors"] == c["late"] == c["duplicate"] == 0, c
    rtt = assert_rtt_is_the_real_replys(c, g, p)
    assert rtt > 1000 * INTERVAL_S, f"{p}: RTT {rtt:.3f} ms, not above the interval"


@pytest.mark.parametrize("p", HEALTHY, ids=repr)
def test_a_clean_path_counts_only_replies(frozen, p):
    m, truth = frozen
    g, c = truth[p.uplink][p.pair], counts(m, p)
    assert c["sent"] == g["requests"] == g["replied"] == c["replied"] == c["scheduled"], (c, g)
    assert c["corrupted"] == c["errors"] == c["timed_out"] == c["duplicate"] == 0, c
    assert_rtt_is_the_real_replys(c, g, p)


def test_promtool_check_metrics_is_clean(monitor):
    assert_promtool_clean(scrape(monitor).text)


def test_reachmon_exits_cleanly_on_sigterm(monitor):
    rc = monitor.stop()
    assert rc == 0, monitor.read_log()[-2000:]
