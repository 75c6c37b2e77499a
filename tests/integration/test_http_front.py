"""The HTTP front under clients that do not behave: idle connections that never send a request,
slow ones that trickle a request a byte at a time, and HEAD requests. A scrape keeps answering
while 100 such clients are connected, and civetweb frees their workers.

Run by ctest (http_front): pytest test_http_front.py --reachmon=BINARY --workdir=DIR
"""
import os
import socket
import threading
import time

from reachmon_testlib import LISTEN_ANY_PORT, write_json

IDLE = 70  # connect, send nothing
SLOW = 30  # send a request one byte every 0.5 s, never finishing it


def config():
    return {"listen": LISTEN_ANY_PORT, "defaults": {"interval": "200ms", "timeout": "150ms"},
            "sources": [{"name": "lo4", "address": "127.0.0.1"}],
            "targets": [{"name": "t1", "host": "127.0.0.1"}]}


def timed_scrape(port):
    """Seconds a complete GET /metrics takes (connect to the last byte), and its status line."""
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return time.monotonic() - start, data.split(b"\r\n", 1)[0]


class BadClients:
    """IDLE connections that send nothing and SLOW ones that trickle a request, kept open."""

    def __init__(self, port):
        self.port = port
        self.sockets = []
        self.stop = threading.Event()
        self.trickler = threading.Thread(target=self._trickle, daemon=True)

    def __enter__(self):
        for _ in range(IDLE + SLOW):
            self.sockets.append(socket.create_connection(("127.0.0.1", self.port), timeout=5))
        self.trickler.start()
        return self

    def _trickle(self):
        request = b"GET /metrics HTTP/1.1\r\nHost: slow\r\nX-Padding: " + b"a" * 1000
        at = 0
        while not self.stop.wait(0.5) and at < len(request):
            for s in self.sockets[IDLE:]:
                try:
                    s.send(request[at:at + 1])
                except OSError:
                    pass  # the server dropped it: what it should do with slow clients
            at += 1

    def __exit__(self, *exc):
        self.stop.set()
        self.trickler.join()
        for s in self.sockets:
            s.close()


def test_a_scrape_answers_while_100_idle_and_slow_clients_are_connected(start_reachmon, workdir):
    path = os.path.join(workdir, "idle.json")
    write_json(path, config())
    rm = start_reachmon(path)
    baseline = max(timed_scrape(rm.port)[0] for _ in range(3))
    with BadClients(rm.port):
        time.sleep(0.5)  # every bad client is connected and waiting in a worker
        for _ in range(5):
            took, status = timed_scrape(rm.port)
            assert status.split()[1:2] == [b"200"], status
            # Blocked scrapes waited for a request timeout (seconds); an answer takes about as
            # long as without the bad clients.
            assert took < baseline + 1.0, \
                f"a scrape took {took:.2f} s with {IDLE + SLOW} bad clients (alone: {baseline:.2f} s)"
    assert rm.proc.poll() is None


def test_idle_connections_are_closed_by_the_server(start_reachmon, workdir):
    """A connection that sends nothing is closed by the server: it never holds a worker for
    long. Measured: the time until the server closes it, against how long a whole scrape takes
    (a closed connection reads EOF)."""
    path = os.path.join(workdir, "close.json")
    write_json(path, config())
    rm = start_reachmon(path)
    with socket.create_connection(("127.0.0.1", rm.port), timeout=60) as s:
        start = time.monotonic()
        assert s.recv(1) == b"", "the server sent something to a client that asked nothing"
        held = time.monotonic() - start
    assert held < 30, f"an idle connection held a worker for {held:.1f} s"


def test_head_answers_like_get_without_a_body(start_reachmon, workdir):
    path = os.path.join(workdir, "head.json")
    write_json(path, config())
    rm = start_reachmon(path)
    for uri in ("/metrics", "/-/healthy", "/"):
        with socket.create_connection(("127.0.0.1", rm.port), timeout=10) as s:
            s.sendall(f"HEAD {uri} HTTP/1.0\r\nHost: x\r\n\r\n".encode())
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.split()[1:2] == [b"200"], (uri, head)
        assert b"Content-Length: " in head, (uri, head)
        assert body == b"", (uri, body[:200])
    with socket.create_connection(("127.0.0.1", rm.port), timeout=10) as s:
        s.sendall(b"HEAD /-/reload HTTP/1.0\r\nHost: x\r\n\r\n")
        assert s.recv(4096).split()[1:2] == [b"405"], "HEAD of a POST-only endpoint"
