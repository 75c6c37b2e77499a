#!/usr/bin/env python3
"""End-to-end on Linux: one monitor host, two uplinks, the same targets behind both.

Proves, with real packets: per-source RTTs match each upstream's delay; loss is measured on the
lossy uplink only and equals the responder's ground truth; forged replies are not counted; IPv6
works the same; ICMP errors are counted by reason; TTL and TOS reach the wire; removing a source
address marks only that source's paths down and they recover when it returns.

Usage: test_multihomed.py REACHMON_BINARY ICMP_RESPONDER_BINARY WORKDIR
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from reachmon_testlib import (Reachmon, TestRun, read_json, require_root, wait_for,  # noqa: E402
                              write_json)
from topology import Topology  # noqa: E402

DELAY_A_MS, DELAY_B_MS = 5.0, 25.0


def config(port, t_interval="200ms"):
    return {
        "listen": f"127.0.0.1:{port}",
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


def mean_rtt_ms(m, source, target, since):
    def delta(name):
        return m.get(name, source=source, target=target) - since.get(name, source=source, target=target)
    s, c = delta("reachmon_rtt_seconds_sum"), delta("reachmon_rtt_seconds_count")
    return 1000 * s / c if c else float("nan")


def main():
    require_root()
    reachmon_bin, responder_bin, work = sys.argv[1:4]
    os.makedirs(work, exist_ok=True)
    t = TestRun("netns multihomed")
    port = 9700 + os.getpid() % 200
    cfg_path = os.path.join(work, "reachmon.json")
    with Topology() as topo:
        stats_a, stats_b = os.path.join(work, "a.json"), os.path.join(work, "b.json")
        topo.start(topo.a, [responder_bin, "--delay-ms", str(DELAY_A_MS), "--stats", stats_a,
                            "--unreachable", "198.51.100.99"],
                   os.path.join(work, "responder-a.log"))
        topo.start(topo.b, [responder_bin, "--delay-ms", str(DELAY_B_MS), "--drop-every", "4",
                            "--duplicate-every", "5", "--forge-every", "3",
                            "--forge-from", "192.0.2.11", "--forge-from6", "2001:db8::11",
                            "--stats", stats_b], os.path.join(work, "responder-b.log"))
        write_json(cfg_path, config(port))
        rm = Reachmon(reachmon_bin, cfg_path, port, netns=topo.m)
        try:
            rm.wait_ready()
            time.sleep(1)  # RTTs are compared over a window after start-up
            m0 = rm.metrics()
            time.sleep(3)
            m = rm.metrics()
            t.check("engine is the ping-socket engine",
                    m.has("reachmon_build_info", engine="icmp-dgram"), m.text[-300:])

            # 1. Same target, different source -> different path and RTT.
            for src, tgt, want in (("isp-a", "t4", DELAY_A_MS), ("isp-b", "t4", DELAY_B_MS),
                                   ("isp-a-v6", "t6", DELAY_A_MS), ("isp-b-v6", "t6", DELAY_B_MS)):
                got = mean_rtt_ms(m, src, tgt, since=m0)
                t.check(f"{src}->{tgt} mean RTT {got:.2f} ms within 2 ms of {want} ms",
                        abs(got - want) <= 2.0)
                t.check(f"{src}->{tgt} got replies",
                        m.get("reachmon_probes_replied_total", source=src, target=tgt) >= 10)

            # 2. ICMP errors by reason; TTL and TOS on the wire.
            sent = m.get("reachmon_probes_sent_total", source="isp-a", target="unreach")
            err = m.get("reachmon_probe_errors_total", source="isp-a", target="unreach",
                        reason="dest_unreachable")
            t.check(f"dest_unreachable counted ({err:.0f} of {sent:.0f} sent)",
                    sent >= 10 and err >= sent - 1)
            t.check("unreachable probes are not also timeouts",
                    m.get("reachmon_probes_timed_out_total", source="isp-a", target="unreach") == 0)
            sent = m.get("reachmon_probes_sent_total", source="isp-b", target="far")
            err = m.get("reachmon_probe_errors_total", source="isp-b", target="far",
                        reason="ttl_expired")
            t.check(f"ttl_expired counted ({err:.0f} of {sent:.0f} sent)", sent >= 10 and err >= sent - 1)
            t.check("without DF a 2000-byte probe is fragmented and answered",
                    m.get("reachmon_probes_replied_total", source="isp-a", target="big") >= 10)
            for src, tgt in (("isp-a", "big-df"), ("isp-a-v6", "big-df6")):
                t.check(f"with DF the oversized {tgt} probe is refused at send, not sent",
                        m.get("reachmon_probes_sent_total", source=src, target=tgt) == 0 and
                        m.get("reachmon_probe_errors_total", source=src, target=tgt, reason="send_failed") >= 10)
            truth_a = read_json(stats_a)
            marked = truth_a.get("10.71.1.2>192.0.2.12", {})
            t.check("configured TTL 33 and TOS 32 reach the target",
                    marked.get("last_ttl") == 33 and marked.get("last_tos") == 32, str(marked))

            # 3. Loss: freeze t4/t6 with a reload (counters survive), let every timeout pass,
            #    then compare with the responders' ground truth.
            write_json(cfg_path, config(port, t_interval="1h"))
            code, body = rm.post("/-/reload")
            t.check("POST /-/reload accepts the edit", code == 200, body)
            time.sleep(1.0)
            m = rm.metrics()
            truth_a, truth_b = read_json(stats_a), read_json(stats_b)
            for src, addr, tgt, tgt_addr, truth, lossy in (
                    ("isp-a", "10.71.1.2", "t4", "192.0.2.10", truth_a, False),
                    ("isp-b", "10.71.2.2", "t4", "192.0.2.10", truth_b, True),
                    ("isp-a-v6", "fd71:1::2", "t6", "2001:db8::10", truth_a, False),
                    ("isp-b-v6", "fd71:2::2", "t6", "2001:db8::10", truth_b, True)):
                g = truth[f"{addr}>{tgt_addr}"]
                sent = m.get("reachmon_probes_sent_total", source=src, target=tgt)
                replied = m.get("reachmon_probes_replied_total", source=src, target=tgt)
                timed_out = m.get("reachmon_probes_timed_out_total", source=src, target=tgt)
                dups = m.get("reachmon_duplicate_replies_total", source=src, target=tgt)
                late = m.get("reachmon_late_replies_total", source=src, target=tgt)
                p = f"{src}->{tgt}"
                t.check(f"{p}: responder saw every request sent ({g['requests']} == {sent:.0f})",
                        g["requests"] == sent)
                t.check(f"{p}: sent - replied == dropped ({sent:.0f} - {replied:.0f} == {g['dropped']})",
                        sent - replied == g["dropped"])
                t.check(f"{p}: timed out == dropped", timed_out == g["dropped"])
                t.check(f"{p}: duplicates == responder's ({dups:.0f})", dups == g["duplicated"])
                t.check(f"{p}: no late replies", late == 0)
                if lossy:
                    t.check(f"{p}: the lossy path lost probes", g["dropped"] >= 3)
                    t.check(f"{p}: forged replies were sent ({g['forged']}) and not counted",
                            g["forged"] >= 4 and replied == g["replied"])
                else:
                    t.check(f"{p}: no loss on the clean path", sent == replied and g["dropped"] == 0)

            write_json(cfg_path, config(port))
            code, body = rm.post("/-/reload")
            t.check("reload back to 200ms intervals", code == 200, body)

            # 4. A source loses its address: only its paths go down; they recover.
            for label, src, other, tgt, delete, restore in (
                    ("interface source", "isp-a", "isp-b", "t4",
                     f"ip -n {topo.m} addr del 10.71.1.2/24 dev a0",
                     f"ip -n {topo.m} addr add 10.71.1.2/24 dev a0"),
                    ("address source", "isp-b-v6", "isp-a-v6", "t6",
                     f"ip -n {topo.m} addr del fd71:2::2/64 dev b0",
                     f"ip -n {topo.m} addr add fd71:2::2/64 dev b0 nodad")):
                subprocess.run(delete, shell=True, check=True)
                wait_for(f"{src} down", lambda: rm.metrics().get("reachmon_source_up", source=src) == 0)
                before = rm.metrics()
                time.sleep(1.0)
                after = rm.metrics()

                def delta(name, s, **kw):
                    return after.get(name, source=s, target=tgt, **kw) - before.get(name, source=s, target=tgt, **kw)
                t.check(f"{label}: {src} paths count source_unavailable",
                        delta("reachmon_probe_errors_total", src, reason="source_unavailable") >= 3)
                t.check(f"{label}: {src} paths are down",
                        after.get("reachmon_path_up", source=src, target=tgt) == 0)
                t.check(f"{label}: {other} keeps probing and stays up",
                        delta("reachmon_probes_replied_total", other) >= 3 and
                        after.get("reachmon_path_up", source=other, target=tgt) == 1 and
                        delta("reachmon_probe_errors_total", other, reason="source_unavailable") == 0)
                subprocess.run(restore, shell=True, check=True)
                topo.routes(1 if src.startswith("isp-a") else 2)
                wait_for(f"{src} back up", lambda: rm.metrics().get("reachmon_path_up", source=src, target=tgt) == 1,
                         timeout=10)
                t.check(f"{label}: {src} recovered without a restart",
                        rm.metrics().get("reachmon_source_up", source=src) == 1)

            # 5. The exposition passes Prometheus' own linter.
            lint = subprocess.run(["promtool", "check", "metrics"], input=rm.metrics().text,
                                  capture_output=True, text=True)
            t.check("promtool check metrics is clean", lint.returncode == 0 and not lint.stdout.strip()
                    and not lint.stderr.strip(), lint.stdout + lint.stderr)
        finally:
            rc = rm.stop()
            t.check("reachmon exits cleanly on SIGTERM", rc == 0, rm.read_log()[-2000:])
    return t.close()


if __name__ == "__main__":
    sys.exit(main())
