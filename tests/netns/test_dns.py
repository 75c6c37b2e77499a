"""DNS never blocks reachmon (issue 10, defect 3): in a namespace whose only nameserver is a UDP
(and TCP) socket that reads every query and never answers, two target names hang in getaddrinfo.
A third name comes from the namespace's /etc/hosts and one target is an IP literal on loopback.

Ground truth first: how long one getaddrinfo of such a name takes in that namespace (glibc's
retries: several seconds). Then, relative to it: reachmon is ready and /metrics answers in a small
fraction of it; the literal and the /etc/hosts name are probed and answered while the two names
hang; their paths count resolve_failed and send nothing; POST /-/reload answers at once; SIGTERM
with the lookups still hanging ends the process within 1 s.

`ip netns exec NS` bind-mounts every file of /etc/netns/NS/ over /etc/, which is how the
namespace gets its own resolv.conf and hosts.

Run by ctest (netns_dns): pytest test_dns.py --reachmon=BINARY --workdir=DIR
"""
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from reachmon_testlib import LISTEN_ANY_PORT, Reachmon, sh, wait_exit, wait_for, write_json

pytestmark = pytest.mark.root

NAMESERVER = "127.0.0.53"  # inside the namespace's own loopback
HANGING = ["never-a.reachmon-dns.test.", "never-b.reachmon-dns.test."]
FROM_HOSTS = "quick.reachmon-dns.test"  # answered by the namespace's /etc/hosts
# "A small fraction" of one hanging lookup, for everything that must not wait for DNS. The
# lookup takes seconds; what is measured here takes milliseconds, plus process start-up and
# `ip netns exec curl` on a loaded machine.
FRACTION = 0.2

# Reads DNS queries (UDP, and TCP connections) and never answers; logs each query name.
SINK = r"""
import select, socket, sys
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind((sys.argv[1], 53))
tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
tcp.bind((sys.argv[1], 53))
tcp.listen(64)
print("ready", flush=True)
held = []
while True:
    ready, _, _ = select.select([udp, tcp], [], [])
    if tcp in ready:
        held.append(tcp.accept()[0])
    if udp in ready:
        data, _ = udp.recvfrom(4096)
        labels, i = [], 12
        while i < len(data) and data[i]:
            labels.append(data[i + 1:i + 1 + data[i]].decode(errors="replace"))
            i += 1 + data[i]
        print(".".join(labels), flush=True)
"""

# One getaddrinfo of a hanging name, timed inside the namespace's own process.
GROUND_TRUTH = r"""
import socket, sys, time
start = time.monotonic()
try:
    socket.getaddrinfo(sys.argv[1], None, socket.AF_INET, socket.SOCK_DGRAM)
    print("resolved", file=sys.stderr)
except OSError as e:
    print(e, file=sys.stderr)
print(time.monotonic() - start)
"""


@pytest.fixture(scope="module")
def dns_ns(workdir):
    """A namespace whose nameserver drops every query; yields (name, sink log path)."""
    name = f"rm{os.getpid() % 100000}dns"
    etc = f"/etc/netns/{name}"
    subprocess.run(["ip", "netns", "del", name], capture_output=True)
    sink = None
    sink_log_path = os.path.join(workdir, "dns-sink.log")
    sink_log = open(sink_log_path, "w")
    try:
        sh(f"ip netns add {name}")
        sh(f"ip -n {name} link set lo up")
        sh(f'ip netns exec {name} sysctl -q -w net.ipv4.ping_group_range="0 2147483647"')
        os.makedirs(etc, exist_ok=True)
        with open(os.path.join(etc, "resolv.conf"), "w") as f:
            f.write(f"nameserver {NAMESERVER}\n")
        with open(os.path.join(etc, "hosts"), "w") as f:
            f.write(f"127.0.0.1 localhost\n127.0.0.2 {FROM_HOSTS}\n")
        sink = subprocess.Popen(["ip", "netns", "exec", name, sys.executable, "-c", SINK,
                                 NAMESERVER], stdout=sink_log, stderr=subprocess.STDOUT)
        wait_for("the DNS sink to listen",
                 lambda: sink.poll() is None and "ready" in open(sink_log_path).read())
        yield name, sink_log_path
    finally:
        if sink and sink.poll() is None:
            sink.kill()
            sink.wait()
        sink_log.close()
        subprocess.run(["ip", "netns", "del", name], capture_output=True)
        shutil.rmtree(etc, ignore_errors=True)


def lookup_seconds(ns, host):
    r = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", GROUND_TRUTH, host],
                       capture_output=True, text=True, check=True)
    return float(r.stdout.strip()), r.stderr.strip()


def timed(f):
    start = time.monotonic()
    result = f()
    return result, time.monotonic() - start


def test_dns_that_never_answers_blocks_nothing(reachmon_bin, workdir, dns_ns):
    ns, sink_log = dns_ns
    truth, outcome = lookup_seconds(ns, "ground-truth.reachmon-dns.test.")
    print(f"ground truth: one getaddrinfo took {truth:.2f} s ({outcome})")
    assert outcome != "resolved", "the sink answered: no ground truth"
    assert "ground-truth.reachmon-dns.test" in open(sink_log).read(), \
        "the lookup never reached the sink: the namespace's resolv.conf is not in effect"
    assert truth >= 2.0, f"a lookup of a hanging name took only {truth:.2f} s: nothing to prove"
    budget = truth * FRACTION

    cfg = os.path.join(workdir, "dns.json")
    write_json(cfg, {
        "listen": LISTEN_ANY_PORT,
        "web": {"enable_reload": True},
        "defaults": {"interval": "100ms", "timeout": "80ms"},
        "sources": [{"name": "lo", "address": "127.0.0.1"}],
        "targets": [{"name": "ip", "host": "127.0.0.1"},
                    {"name": "never-a", "host": HANGING[0]},
                    {"name": "never-b", "host": HANGING[1]},
                    {"name": "quick", "host": FROM_HOSTS}],
    })
    started = time.monotonic()
    with Reachmon(reachmon_bin, cfg, netns=ns, log_path=os.path.join(workdir, "dns.log")) as rm:
        rm.wait_ready(timeout=truth * 3)
        ready = time.monotonic() - started
        m, scrape = timed(rm.metrics)
        print(f"ready after {ready:.3f} s, first /metrics took {scrape:.3f} s")
        assert ready < budget, f"ready after {ready:.2f} s; one lookup takes {truth:.2f} s"
        assert scrape < budget

        # The literal and the /etc/hosts name are probed and answered meanwhile.
        def answered():
            m = rm.metrics()
            return m if (m.get("reachmon_probes_replied_total", target="ip") >= 3 and
                         m.get("reachmon_probes_replied_total", target="quick") >= 3) else None
        wait_for("replies from the literal and the /etc/hosts name", answered, timeout=truth)
        log = open(sink_log).read()
        for host in HANGING:
            assert host.rstrip(".") in log, f"reachmon never asked the nameserver for {host}"

        # The hanging names count resolve_failed and send nothing; /metrics stays quick.
        def failing():
            m = rm.metrics()
            return m if all(m.get("reachmon_probe_errors_total", target=t,
                                  reason="resolve_failed") >= 2
                            for t in ("never-a", "never-b")) else None
        m = wait_for("resolve_failed on the hanging names", failing, timeout=truth)
        for t in ("never-a", "never-b"):
            assert m.get("reachmon_probes_sent_total", target=t) == 0
            assert m.get("reachmon_probes_replied_total", target=t) == 0
            assert m.has("reachmon_target_info", target=t, address="")
        assert m.has("reachmon_target_info", target="quick", address="127.0.0.2")
        assert m.get("reachmon_probe_errors_total", target="ip", reason="resolve_failed") == 0
        _, scrape = timed(rm.metrics)
        (code, body), reload = timed(lambda: rm.post("/-/reload"))
        print(f"with lookups hanging: /metrics took {scrape:.3f} s, POST /-/reload {reload:.3f} s")
        assert scrape < budget
        assert code == 200, body
        assert reload < budget, f"reload took {reload:.2f} s; one lookup takes {truth:.2f} s"
        assert rm.metrics().get("reachmon_probes_replied_total", target="ip") >= 3

        # Stop while the lookups reachmon started still hang (each began after `started`).
        hanging_for = time.monotonic() - started
        assert hanging_for < truth * 0.8, \
            f"the test took {hanging_for:.2f} s: reachmon's lookups may have ended already"
        sent = time.monotonic()
        rm.proc.send_signal(signal.SIGTERM)
        rc, stop = wait_exit(rm.proc, timeout=truth * 3, since=sent)
        print(f"SIGTERM {hanging_for:.2f} s after start: exited with {rc} after {stop:.3f} s")
        assert rc == 0, rm.read_log()
        assert stop < 1.0 and stop < budget, f"stop took {stop:.2f} s"


def test_ready_waits_for_the_first_lookup_of_every_target_name(reachmon_bin, workdir, dns_ns):
    """/-/ready is 503 while a target name's first lookup hangs (reachmon probes and serves
    meanwhile: /-/healthy is 200 and the literal is answered), and 200 once every name's first
    lookup has ended: the /etc/hosts name's answered, the hanging one's past reachmon's lookup
    deadline (a failure: its paths count resolve_failed). From then on a scrape shows the
    outcome of each."""
    ns, sink_log = dns_ns
    cfg = os.path.join(workdir, "ready.json")
    write_json(cfg, {
        "listen": LISTEN_ANY_PORT,
        "defaults": {"interval": "100ms", "timeout": "80ms"},
        "sources": [{"name": "lo", "address": "127.0.0.1"}],
        "targets": [{"name": "ip", "host": "127.0.0.1"},
                    {"name": "never-a", "host": HANGING[0]},
                    {"name": "quick", "host": FROM_HOSTS}],
    })
    with Reachmon(reachmon_bin, cfg, netns=ns, log_path=os.path.join(workdir, "ready.log")) as rm:
        rm.wait_ready(timeout=30)
        code, body = rm.get("/-/ready")
        assert code == 503, body
        assert body.startswith("not ready: the first lookup of ") and "of 2 target names" in body, \
            body
        assert rm.get("/-/healthy")[0] == 200
        wait_for("the literal to be answered while not ready",
                 lambda: rm.metrics().get("reachmon_probes_replied_total", target="ip") >= 1)
        assert rm.get("/-/ready")[0] == 503, "ready before the hanging lookup ended"
        assert HANGING[0].rstrip(".") in open(sink_log).read(), "reachmon never asked for it"

        wait_for("/-/ready to answer 200", lambda: rm.get("/-/ready") == (200, "ready\n"),
                 timeout=60)
        m = rm.metrics()
        assert m.has("reachmon_target_info", target="quick", address="127.0.0.2"), m.text
        assert m.has("reachmon_target_info", target="never-a", address=""), m.text
        wait_for("resolve_failed on the hanging name", lambda: rm.metrics().get(
            "reachmon_probe_errors_total", target="never-a", reason="resolve_failed") >= 1)
