"""The HTTP front under clients that do not behave: idle connections that never send a request,
slow ones that trickle a request a byte at a time, and HEAD requests. A scrape keeps answering
while 100 such clients are connected, and civetweb frees their workers. /metrics is gzip for
clients that accept it (Prometheus, curl --compressed) and plain text for the others. HEAD of
every GET endpoint sends GET's status and headers without the body.

The process_* metrics (reachmon's own CPU time, memory, descriptors) change between any two
scrapes; comparisons of whole bodies leave them out (without_process()).

Run by ctest (http_front): pytest test_http_front.py --reachmon=BINARY --workdir=DIR
"""
import gzip
import os
import socket
import subprocess
import threading
import time

from reachmon_testlib import LISTEN_ANY_PORT, Metrics, assert_promtool_clean, wait_for, write_json

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
    for uri in ("/metrics", "/-/healthy", "/-/ready", "/"):
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


def request(port, method="GET", path="/metrics", headers=()):
    """One HTTP/1.0 request on its own connection: (status, {lower-case name: value}, body as
    received, not decoded)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        lines = [f"{method} {path} HTTP/1.0", "Host: x", *headers, "", ""]
        s.sendall("\r\n".join(lines).encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    fields = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), fields, body


def without_process(body):
    """A /metrics text without the process_* families, whose values change at every scrape."""
    return b"".join(line for line in body.splitlines(keepends=True)
                    if not line.startswith((b"process_", b"# HELP process_", b"# TYPE process_")))


def still_config():
    """20 paths probed once an hour. First probes are spread over the interval: the first path's
    at once, the next one's 3 minutes later. Once the first has ended, every scrape serves the
    same text for 3 minutes, so two scrapes (one gzip, one plain) can be compared byte for
    byte."""
    return {"listen": LISTEN_ANY_PORT, "defaults": {"interval": "1h", "timeout": "100ms"},
            "sources": [{"name": "lo4", "address": "127.0.0.1"}],
            "targets": [{"name": f"t{i}", "host": f"127.0.0.{i}"} for i in range(1, 21)]}


def still_reachmon(start_reachmon, workdir):
    path = os.path.join(workdir, "still.json")
    write_json(path, still_config())
    rm = start_reachmon(path)
    wait_for("the first path's first probe to end",
             lambda: Metrics(request(rm.port)[2].decode()).total(
                 "reachmon_probes_scheduled_total") == 1, timeout=30)
    return rm


def test_metrics_is_gzip_when_asked_and_inflates_to_the_plain_text(start_reachmon, workdir):
    rm = still_reachmon(start_reachmon, workdir)
    status, plain_headers, plain = request(rm.port)
    assert status == 200
    assert "content-encoding" not in plain_headers, plain_headers
    assert plain_headers["vary"] == "Accept-Encoding"
    assert plain_headers["content-length"] == str(len(plain))
    assert plain_headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert plain.count(b"\nreachmon_path_up{") == 20, plain.decode()
    # What Prometheus sends, and what other clients send.
    for accept in ("gzip", "deflate, gzip;q=0.9, br", "GZIP", "x-gzip", "*"):
        status, headers, body = request(rm.port, headers=[f"Accept-Encoding: {accept}"])
        assert status == 200, accept
        assert headers["content-encoding"] == "gzip", (accept, headers)
        assert headers["vary"] == "Accept-Encoding", (accept, headers)
        assert headers["content-length"] == str(len(body)), (accept, headers)
        assert headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
        assert body[:2] == b"\x1f\x8b", (accept, body[:10])
        assert without_process(gzip.decompress(body)) == without_process(plain), accept
        assert len(body) < len(plain) / 5, (len(body), len(plain))
    assert_promtool_clean(plain.decode())


def test_metrics_is_plain_when_gzip_is_refused_or_not_offered(start_reachmon, workdir):
    rm = still_reachmon(start_reachmon, workdir)
    plain = request(rm.port)[2]
    for accept in ("gzip;q=0", "gzip; q=0.000", "identity", "deflate, br", "*;q=0",
                   "gzip;q=0, *;q=1", ""):
        status, headers, body = request(rm.port, headers=[f"Accept-Encoding: {accept}"])
        assert status == 200, accept
        assert "content-encoding" not in headers, (accept, headers)
        assert headers["vary"] == "Accept-Encoding", (accept, headers)
        assert without_process(body) == without_process(plain), accept


def test_head_metrics_tells_the_length_of_what_get_would_send(start_reachmon, workdir):
    """HEAD renders a body of its own, as a GET at that moment would: only the process_* values
    differ from a GET's, by a few characters of text (CPU seconds gaining a digit, ...) and a few
    bytes of gzip. The plain text is about 20 times the size of the gzip body."""
    rm = still_reachmon(start_reachmon, workdir)
    for accept, slack in (((), 16), (("Accept-Encoding: gzip",), 64)):
        _, get_headers, body = request(rm.port, headers=accept)
        status, headers, head_body = request(rm.port, "HEAD", headers=accept)
        assert status == 200 and head_body == b"", (accept, head_body[:100])
        assert abs(int(headers["content-length"]) - len(body)) <= slack, (accept, headers, len(body))
        for name in ("content-type", "vary", "cache-control", "content-encoding"):
            assert headers.get(name) == get_headers.get(name), (accept, name, headers, get_headers)
        assert ("content-encoding" in headers) == bool(accept), (accept, headers)


def test_head_of_every_other_get_endpoint_sends_gets_headers(start_reachmon, workdir):
    """/, /path, /-/healthy and /-/ready: the same status and headers as GET (Content-Length:
    the length of GET's body), and no body; with or without gzip offered (the pages compress,
    the short answers do not). A page shows the time to the second, so its compressed length
    may change between two requests: HEAD's must be that of the GET before or after it."""
    rm = still_reachmon(start_reachmon, workdir)
    for path in ("/", "/path?source=lo4&target=t1", "/-/healthy", "/-/ready"):
        page = not path.startswith("/-/")
        for accept in ((), ("Accept-Encoding: gzip",)):
            get_status, get_headers, body = request(rm.port, path=path, headers=accept)
            status, headers, head_body = request(rm.port, "HEAD", path=path, headers=accept)
            after = request(rm.port, path=path, headers=accept)[2]
            assert get_status == 200 and body, (path, get_status, body[:200])
            assert status == get_status and head_body == b"", (path, status, head_body[:100])
            assert headers["content-length"] in (str(len(body)), str(len(after))), \
                (path, headers, len(body), len(after))
            for name in ("content-type", "cache-control", "content-encoding", "vary"):
                assert headers.get(name) == get_headers.get(name), (path, name, headers)
            assert ("content-encoding" in headers) == (page and bool(accept)), (path, headers)
            assert ("vary" in headers) == page, (path, headers)


def test_curl_compressed_gets_gzip_and_decodes_it(start_reachmon, workdir):
    """A real client: curl --compressed asks for gzip and decodes it to the plain text."""
    rm = still_reachmon(start_reachmon, workdir)
    plain = request(rm.port)[2]
    url = f"http://127.0.0.1:{rm.port}/metrics"
    r = subprocess.run(["curl", "-sS", "--compressed", "-D", "-", "-o", "/dev/null", url],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert "content-encoding: gzip" in r.stdout.lower(), r.stdout
    r = subprocess.run(["curl", "-sS", "--compressed", url], capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert without_process(r.stdout) == without_process(plain)
