"""End-to-end on Linux: one monitor host, two uplinks, the same targets behind both
(tests/support/topology.py), answered by tests/tools/icmp_responder, which records ground truth.

Proves, with real packets: the source address picks the uplink; per-source RTTs match the time
each upstream really held the requests (the responder's own measurement, so the responder's
scheduling delays on a loaded machine count on both sides); loss is measured on the lossy uplink
only and equals the responder's ground truth; forged replies are not counted; IPv6 works the
same; ICMP errors are counted by reason; TTL and TOS reach the wire; removing a source address
marks only that source's paths down and they recover when it returns.

Run by ctest (netns_multihomed):
    pytest test_multihomed.py --reachmon=BINARY --responder=ICMP_RESPONDER --workdir=DIR
"""
import os
import subprocess

import pytest
from reachmon_testlib import (LISTEN_ANY_PORT, Reachmon, assert_promtool_clean, read_json,
                              wait_for, write_json)

pytestmark = pytest.mark.root

# The responders' configured delays. The test never compares with them: RTTs are compared with
# the hold times the responders measured.
DELAY_A_MS, DELAY_B_MS = 5, 25

# reachmon's RTT of a probe = the responder's hold time + the time on the wire and in the
# kernels: reachmon reads its send time before its sendmsg and takes the receive time from the
# kernel, and the responder's hold runs from its kernel receive timestamp to just before its
# sendmsg. So, per probe, RTT >= hold, and the excess is two veth crossings (tens of
# microseconds), plus, on a loaded machine, any preemption between a clock read and the
# following sendmsg on either side. Over the mean of the path's probes:
RTT_BELOW_HOLD_MS = 0.1  # no physical reason to be below at all; clock conversion rounding
RTT_ABOVE_HOLD_MS = 2.0  # wire and kernel time, and scheduling hiccups averaged over >= 10 probes

# (source, its address, target, target address, uplink, lossy)
PATHS = [("isp-a", "10.71.1.2", "t4", "192.0.2.10", "a", False),
         ("isp-b", "10.71.2.2", "t4", "192.0.2.10", "b", True),
         ("isp-a-v6", "fd71:1::2", "t6", "2001:db8::10", "a", False),
         ("isp-b-v6", "fd71:2::2", "t6", "2001:db8::10", "b", True)]
PATH_IDS = [f"{p[0]}->{p[2]}" for p in PATHS]


def config(t_interval="200ms"):
    return {
        "listen": LISTEN_ANY_PORT,
        "web": {"enable_reload": True},
        "defaults": {"interval": "200ms", "timeout": "150ms"},
        "sources": [
            {"name": "isp-a", "interface": "a0"},
            {"name": "isp-b", "address": "10.71.2.2"},
            {"name": "isp-a-v6", "interface": "a0", "family": "ipv6"},
            {"name": "isp-b-v6", "address": "fd71:2::2"},
        ],
        "targets": [
            {"name": "t4", "host": "192.0.2.10", "interval": t_interval, "labels": {"kind": "main"}},
            {"name": "t6", "host": "2001:db8::10", "interval": t_interval},
            {"name": "marked", "host": "192.0.2.12", "sources": ["isp-a"], "ttl": 33, "tos": 32},
            {"name": "unreach", "host": "198.51.100.99", "sources": ["isp-a"]},
            {"name": "far", "host": "198.51.100.50", "sources": ["isp-b"], "ttl": 1},
            # 2000 data bytes exceed the 1500-byte MTU: fragmented without DF, refused with it.
            {"name": "big", "host": "192.0.2.13", "sources": ["isp-a"], "payload_size": 2000},
            {"name": "big-df", "host": "192.0.2.10", "sources": ["isp-a"], "payload_size": 2000,
             "dont_fragment": True},
            {"name": "big-df6", "host": "2001:db8::10", "sources": ["isp-a-v6"],
             "payload_size": 2000, "dont_fragment": True},
        ],
    }


@pytest.fixture(scope="module")
def truth(topo, path_option, workdir):
    """Starts the two responders; truth("a"|"b") reads that responder's ground truth."""
    responder = path_option("responder")
    stats = {"a": os.path.join(workdir, "a.json"), "b": os.path.join(workdir, "b.json")}
    for path in stats.values():  # a previous run's
        if os.path.exists(path):
            os.remove(path)
    topo.start(topo.a, [responder, "--delay-ms", str(DELAY_A_MS), "--stats", stats["a"],
                        "--unreachable", "198.51.100.99"], os.path.join(workdir, "responder-a.log"))
    topo.start(topo.b, [responder, "--delay-ms", str(DELAY_B_MS), "--drop-every", "4",
                        "--duplicate-every", "5", "--forge-every", "3",
                        "--forge-from", "192.0.2.11", "--forge-from6", "2001:db8::11",
                        "--stats", stats["b"]], os.path.join(workdir, "responder-b.log"))
    for path in stats.values():
        wait_for(f"the responder to write {path}", lambda: os.path.exists(path))
    return lambda uplink: read_json(stats[uplink])


@pytest.fixture(scope="module")
def config_path(workdir):
    return os.path.join(workdir, "reachmon.json")


@pytest.fixture(scope="module")
def monitor(topo, truth, reachmon_bin, config_path):
    """reachmon in the monitor namespace, probing until every main path has replied 10 times."""
    write_json(config_path, config())
    with Reachmon(reachmon_bin, config_path, netns=topo.m) as rm:
        rm.wait_ready()

        def replied(src, tgt):
            return rm.metrics().get("reachmon_probes_replied_total", source=src, target=tgt)
        wait_for("10 replies on every main path",
                 lambda: all(replied(p[0], p[2]) >= 10 for p in PATHS), timeout=30)
        yield rm


def reload(rm, config_path, cfg):
    write_json(config_path, cfg)
    code, body = rm.post("/-/reload")
    assert code == 200, f"POST /-/reload refused the edit: {code} {body}"


def test_the_engine_is_the_ping_socket_engine(monitor):
    m = monitor.metrics()
    assert m.has("reachmon_build_info", engine="icmp-dgram"), m.text[-300:]


def test_the_source_address_picks_the_uplink(monitor, truth):
    """Same target, different source -> different path: each upstream saw only its own
    uplink's monitor address as the source of requests to the shared targets."""
    seen = {u: {k for k in truth(u) if k.endswith((">192.0.2.10", ">2001:db8::10"))}
            for u in ("a", "b")}
    assert seen["a"] == {"10.71.1.2>192.0.2.10", "fd71:1::2>2001:db8::10"}, seen
    assert seen["b"] == {"10.71.2.2>192.0.2.10", "fd71:2::2>2001:db8::10"}, seen


def test_dest_unreachable_is_counted_and_not_as_a_timeout(monitor):
    def counts():
        m = monitor.metrics()
        return (m.get("reachmon_probes_sent_total", source="isp-a", target="unreach"),
                m.get("reachmon_probe_errors_total", source="isp-a", target="unreach",
                      reason="dest_unreachable"),
                m.get("reachmon_probes_timed_out_total", source="isp-a", target="unreach"))
    wait_for("10 probes to the unreachable target", lambda: counts()[0] >= 10)
    sent, err, timed_out = counts()
    assert err >= sent - 1, f"dest_unreachable counted {err:.0f} of {sent:.0f} sent"  # 1 in flight
    assert timed_out == 0, f"{timed_out:.0f} unreachable probes also counted as timeouts"


def test_ttl_expired_is_counted(monitor):
    def counts():
        m = monitor.metrics()
        return (m.get("reachmon_probes_sent_total", source="isp-b", target="far"),
                m.get("reachmon_probe_errors_total", source="isp-b", target="far",
                      reason="ttl_expired"))
    wait_for("10 TTL-1 probes", lambda: counts()[0] >= 10)
    sent, err = counts()
    assert err >= sent - 1, f"ttl_expired counted {err:.0f} of {sent:.0f} sent"


def test_without_df_a_2000_byte_probe_is_fragmented_and_answered(monitor):
    wait_for("10 replies to 2000-byte probes", lambda: monitor.metrics().get(
        "reachmon_probes_replied_total", source="isp-a", target="big") >= 10)


@pytest.mark.parametrize("src,tgt", [("isp-a", "big-df"), ("isp-a-v6", "big-df6")])
def test_with_df_an_oversized_probe_is_refused_at_send_not_sent(monitor, src, tgt):
    def failed():
        return monitor.metrics().get("reachmon_probe_errors_total", source=src, target=tgt,
                                     reason="send_failed")
    wait_for("10 refused sends", lambda: failed() >= 10)
    assert monitor.metrics().get("reachmon_probes_sent_total", source=src, target=tgt) == 0


def test_configured_ttl_and_tos_reach_the_target(monitor, truth):
    marked = wait_for("requests to the marked target",
                      lambda: truth("a").get("10.71.1.2>192.0.2.12"))
    assert (marked["last_ttl"], marked["last_tos"]) == (33, 32), marked


@pytest.fixture(scope="module")
def frozen(monitor, truth, config_path):
    """Freezes t4/t6 with a reload to a 1 h interval (counters survive), waits until every probe
    of theirs is settled (replied or timed out) and the counters stand still, then returns
    reachmon's metrics and both responders' ground truth, all taken at that point."""
    reload(monitor, config_path, config(t_interval="1h"))

    def counters(m):
        # A dropped request whose forged, corrupted reply came ends as corrupted_reply.
        return [m.get(f"reachmon_probes_{c}_total", source=p[0], target=p[2])
                if c != "corrupted_reply" else
                m.get("reachmon_probe_errors_total", source=p[0], target=p[2], reason=c)
                for p in PATHS for c in ("sent", "replied", "timed_out", "corrupted_reply")]
    last = []

    def settled():
        m = monitor.metrics()
        now = counters(m)
        done = all(now[i] == now[i + 1] + now[i + 2] + now[i + 3] for i in range(0, len(now), 4))
        stable = now == last
        last[:] = now
        return m if done and stable else None
    m = wait_for("t4/t6 probes to settle after the freeze", settled, timeout=15, interval=0.5)
    return m, {"a": truth("a"), "b": truth("b")}


@pytest.mark.parametrize("src,addr,tgt,tgt_addr,uplink,lossy", PATHS, ids=PATH_IDS)
def test_counters_equal_the_responders_ground_truth(frozen, src, addr, tgt, tgt_addr, uplink,
                                                    lossy):
    m, truth = frozen
    g = truth[uplink][f"{addr}>{tgt_addr}"]

    def get(name):
        return m.get(name, source=src, target=tgt)
    sent, replied = get("reachmon_probes_sent_total"), get("reachmon_probes_replied_total")
    timed_out = get("reachmon_probes_timed_out_total")
    corrupted_only = m.get("reachmon_probe_errors_total", source=src, target=tgt,
                           reason="corrupted_reply")
    assert sent == g["requests"], \
        f"the responder saw {g['requests']} requests, reachmon sent {sent:.0f}"
    assert sent - replied == g["dropped"], \
        f"sent - replied = {sent:.0f} - {replied:.0f}, responder dropped {g['dropped']}"
    assert timed_out + corrupted_only == g["dropped"], \
        f"timed out {timed_out:.0f} + corrupted_reply {corrupted_only:.0f}, dropped {g['dropped']}"
    assert get("reachmon_duplicate_replies_total") == g["duplicated"]
    assert get("reachmon_late_replies_total") == 0
    if lossy:
        assert g["dropped"] >= 3, f"the lossy path lost only {g['dropped']} probes"
        assert g["forged"] >= 4, f"only {g['forged']} forged replies were sent"
        assert replied == g["replied"], \
            f"forged replies counted: reachmon {replied:.0f} replied, responder {g['replied']}"
        # Each forgery is a corrupted copy (counted apart) and a perfect one from another
        # address (a stray, not counted on the path).
        corrupted = get("reachmon_corrupted_replies_total")
        assert 2 * corrupted == g["forged"], \
            f"{corrupted:.0f} corrupted replies counted, the responder forged {g['forged']} replies"
    else:
        assert sent == replied and g["dropped"] == 0, "loss on the clean path"


def mean_rtt_ms(m, src, tgt):
    count = m.get("reachmon_rtt_seconds_count", source=src, target=tgt)
    return 1000 * m.get("reachmon_rtt_seconds_sum", source=src, target=tgt) / count, count


def mean_hold_ms(g):
    return g["hold_sum_ns"] / g["hold_count"] / 1e6, g["hold_count"]


@pytest.mark.parametrize("src,addr,tgt,tgt_addr,uplink,lossy", PATHS, ids=PATH_IDS)
def test_mean_rtt_matches_the_responders_hold_time(frozen, src, addr, tgt, tgt_addr, uplink,
                                                   lossy):
    """Over the same probes (every reply of the path), reachmon's mean RTT is the mean time the
    responder held the requests, plus wire time only."""
    m, truth = frozen
    g = truth[uplink][f"{addr}>{tgt_addr}"]
    rtt, rtt_count = mean_rtt_ms(m, src, tgt)
    hold, hold_count = mean_hold_ms(g)
    assert rtt_count == hold_count >= 10, \
        f"reachmon has {rtt_count:.0f} RTTs, the responder {hold_count} hold times"
    detail = (f"{src}->{tgt}: mean RTT {rtt:.3f} ms, mean hold {hold:.3f} ms "
              f"(min {g['hold_min_ns'] / 1e6:.3f}, max {g['hold_max_ns'] / 1e6:.3f}) "
              f"over {hold_count} replies")
    print(detail)
    assert hold - RTT_BELOW_HOLD_MS <= rtt <= hold + RTT_ABOVE_HOLD_MS, detail


@pytest.mark.parametrize("fast,slow,tgt", [(PATHS[0], PATHS[1], "t4"), (PATHS[2], PATHS[3], "t6")],
                         ids=["t4", "t6"])
def test_the_slow_uplink_is_slower_by_its_extra_hold_time(frozen, fast, slow, tgt):
    m, truth = frozen
    (rtt_fast, _), (rtt_slow, _) = mean_rtt_ms(m, fast[0], tgt), mean_rtt_ms(m, slow[0], tgt)
    hold_fast, _ = mean_hold_ms(truth[fast[4]][f"{fast[1]}>{fast[3]}"])
    hold_slow, _ = mean_hold_ms(truth[slow[4]][f"{slow[1]}>{slow[3]}"])
    extra = hold_slow - hold_fast
    assert extra > RTT_ABOVE_HOLD_MS, f"the responders held B's requests only {extra:.3f} ms longer"
    # The fast path's RTT may exceed its hold by up to RTT_ABOVE_HOLD_MS; the slow one's not less.
    assert rtt_slow - rtt_fast >= extra - RTT_ABOVE_HOLD_MS, \
        (f"{slow[0]} RTT {rtt_slow:.3f} ms vs {fast[0]} {rtt_fast:.3f} ms: "
         f"{rtt_slow - rtt_fast:.3f} ms apart, the responders' hold times {extra:.3f} ms")


def test_a_reload_restores_the_200ms_intervals(monitor, config_path):
    before = monitor.metrics().get("reachmon_probes_sent_total", source="isp-a", target="t4")
    reload(monitor, config_path, config())
    wait_for("t4 to be probed again", lambda: monitor.metrics().get(
        "reachmon_probes_sent_total", source="isp-a", target="t4") >= before + 3)


@pytest.mark.parametrize("src,other,tgt,delete,restore,uplink", [
    ("isp-a", "isp-b", "t4", "addr del 10.71.1.2/24 dev a0", "addr add 10.71.1.2/24 dev a0", 1),
    ("isp-b-v6", "isp-a-v6", "t6", "addr del fd71:2::2/64 dev b0",
     "addr add fd71:2::2/64 dev b0 nodad", 2),
], ids=["interface source", "address source"])
def test_a_source_losing_its_address_takes_only_its_paths_down(monitor, topo, src, other, tgt,
                                                              delete, restore, uplink):
    """Its paths count source_unavailable and go down, the other uplink's keep probing and stay
    up, and they recover without a restart when the address returns."""
    subprocess.run(f"ip -n {topo.m} {delete}", shell=True, check=True)
    try:
        wait_for(f"{src} down",
                 lambda: monitor.metrics().get("reachmon_source_up", source=src) == 0)
        before = monitor.metrics()

        def delta(m, name, s, **kw):
            return (m.get(name, source=s, target=tgt, **kw) -
                    before.get(name, source=s, target=tgt, **kw))

        def progressed():
            m = monitor.metrics()
            return m if (delta(m, "reachmon_probe_errors_total", src,
                               reason="source_unavailable") >= 3 and
                         delta(m, "reachmon_probes_replied_total", other) >= 3) else None
        after = wait_for(f"{src} errors and {other} replies", progressed)
        assert after.get("reachmon_path_up", source=src, target=tgt) == 0, f"{src} path is up"
        assert after.get("reachmon_path_up", source=other, target=tgt) == 1, f"{other} path is down"
        assert delta(after, "reachmon_probe_errors_total", other, reason="source_unavailable") == 0
    finally:
        subprocess.run(f"ip -n {topo.m} {restore}", shell=True, check=True)
        topo.routes(uplink)
    wait_for(f"{src} back up", lambda: monitor.metrics().get(
        "reachmon_path_up", source=src, target=tgt) == 1)
    assert monitor.metrics().get("reachmon_source_up", source=src) == 1


def test_promtool_check_metrics_is_clean(monitor):
    assert_promtool_clean(monitor.metrics().text)


def test_reachmon_exits_cleanly_on_sigterm(monitor):
    rc = monitor.stop()
    assert rc == 0, monitor.read_log()[-2000:]
