"""UDP probes of reachmon.exe under Wine, with the real Winsock: WSASendMsg / WSARecvMsg through
their extension pointers, completion routines on the probe thread, a socket per probe in flight.
A UDP echo service of this test on 127.0.0.1 (Python, so no root and no Linux build needed) is
the ground truth: what it received, from which ports, what it echoed intact, what it corrupted or
dropped, and how long it held each datagram. Wine ignores the IN_PKTINFO source and never reports
ICMP errors on UDP sockets (docs/windows.md): only echoes on IPv4 loopback are proven here.

Run by ctest (wine_udp; WINEPREFIX set and initialised):
    pytest test_udp_wine.py --reachmon=REACHMON_EXE --workdir=DIR
"""
import os
import socket
import threading
import time

from reachmon_testlib import LISTEN_ANY_PORT, scrape, wait_for, wait_metrics, write_json
from wine_testlib import ConsoleRun

HOLD = 0.020  # the echo service answers this long after a datagram arrives


class UdpEcho:
    """Echoes datagrams on 127.0.0.1 after HOLD; drops every 4th and flips one byte of every
    5th (the others intact) until `limit` datagrams, then drops everything. Counts all of it."""

    def __init__(self, limit):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.limit = limit
        self.lock = threading.Lock()
        self.received = 0
        self.senders = set()
        self.intact = 0
        self.corrupted = 0
        self.dropped = 0
        self.holds = []
        self.done = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        pending = []  # (due, data, sender, arrived)
        while not self.done:
            now = time.monotonic()
            for item in [p for p in pending if p[0] <= now]:
                pending.remove(item)
                _, data, sender, arrived = item
                self.sock.sendto(data, sender)
                with self.lock:
                    self.holds.append(time.monotonic() - arrived)
            next_due = min((p[0] for p in pending), default=now + 0.1)
            self.sock.settimeout(max(0.001, next_due - now))
            try:
                data, sender = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            arrived = time.monotonic()
            with self.lock:
                self.received += 1
                n = self.received
                self.senders.add(sender)
                if n > self.limit or n % 4 == 0:
                    self.dropped += 1
                    continue
                if n % 5 == 0:
                    data = data[:20] + bytes([data[20] ^ 0xFF]) + data[21:]
                    self.corrupted += 1
                else:
                    self.intact += 1
            pending.append((arrived + HOLD, data, sender, arrived))

    def close(self):
        self.done = True
        self.thread.join()
        self.sock.close()


def test_udp_echo_probes_under_wine(wine_session, reachmon_bin, workdir):
    d = os.path.join(workdir, "udp")
    os.makedirs(d, exist_ok=True)
    echo = UdpEcho(limit=40)
    path = os.path.join(d, "reachmon.json")
    write_json(path, {"listen": LISTEN_ANY_PORT,
                      "defaults": {"interval": "100ms", "timeout": "500ms"},
                      "sources": [{"name": "lo4", "address": "127.0.0.1"}],
                      "targets": [{"name": "echo", "host": "127.0.0.1", "probe": "udp",
                                   "port": echo.port, "payload_size": 64}]})
    try:
        with ConsoleRun(reachmon_bin, path, os.path.join(d, "console.log")) as console:
            port = console.wait_port("the console run to serve", timeout=60)
            path_labels = {"source": "lo4", "target": "echo", "probe": "udp"}
            # Past the echo's limit, then longer than a timeout: every answer is in, and no
            # probe that the service answered can still be in flight.
            wait_for("the echo service to stop answering",
                     lambda: echo.received > echo.limit, timeout=60)
            time.sleep(1.0)
            m = wait_metrics("the path to settle", lambda: scrape(port),
                             lambda m: m.get("reachmon_probes_timed_out_total", **path_labels)
                             >= echo.dropped - 6, timeout=10)
            with echo.lock:
                intact, corrupted, holds = echo.intact, echo.corrupted, list(echo.holds)
                senders = set(echo.senders)
            # Every intact echo is a reply; each corrupted one is counted apart, never a reply,
            # and its probe, which nothing else answered, ends as corrupted_reply.
            assert m.get("reachmon_probes_replied_total", **path_labels) == intact, m.text
            assert m.get("reachmon_corrupted_replies_total", **path_labels) == corrupted
            assert m.get("reachmon_probe_errors_total", reason="corrupted_reply",
                         **path_labels) == corrupted
            assert m.total("reachmon_probe_errors_total", **path_labels) == corrupted
            assert m.get("reachmon_invalid_replies_total") == 0
            # RTT: at least the service's hold, and not much more (loopback, the same host).
            count = m.get("reachmon_rtt_seconds_count", **path_labels)
            mean = m.get("reachmon_rtt_seconds_sum", **path_labels) / count
            mean_hold = sum(holds) / len(holds)
            assert count == intact
            assert min(holds) - 0.001 <= mean <= mean_hold + 0.050, (mean, mean_hold)
            # Datagrams left from 127.0.0.1, each probe in flight from a socket (port) of its
            # own, and sockets were reused rather than opened per probe.
            assert {a for a, _ in senders} == {"127.0.0.1"}
            ports = {p for _, p in senders}
            assert 2 <= len(ports) < echo.received / 2, (len(ports), echo.received)
            # A stop with a receive pending on every socket ends at once: they are cancelled.
            rc, took = console.ctrl_c(30)
            assert rc == 0, console.text()[-1000:]
            assert took < 5, took
    finally:
        echo.close()
