"""Memory of concurrent scrapes (issue 10, defect 5): with 10,000 paths, 8 scrapes at once keep
reachmon's resident memory under twice its idle RSS plus one /metrics body. Before, every scrape
built all metric families next to the body, and glibc's per-thread arenas kept what they freed:
8 parallel scrapes took RSS from about 100 MB to about 400 MB. Since issue 12 the text is
compressed while it is written and only the gzip body is kept (plain scrapes inflate it on the
way): a process that served scrapes, gzip or not, holds much less than the text on top of
what it held before the first one (measured: 3 to 4 MB for 14 MB of text, mostly the stacks of
the HTTP workers that served a scrape).

Memory is what is asserted, never time: the peak is the kernel's high-water mark of the process
(VmHWM), reset just before the scrapes (`5` written to /proc/PID/clear_refs), so the result
does not depend on when anything is sampled or on how loaded the machine is.

Run by ctest (scrape_memory): pytest test_scrape_memory.py --reachmon=BINARY --workdir=DIR
"""
import os
import socket
import time

import pytest

from reachmon_testlib import (LISTEN_ANY_PORT, Reachmon, reset_peak, run_together, status_kib,
                              write_json)

PATHS = 10_000
PARALLEL = 8
ROUNDS = 3  # memory an allocator keeps after a round shows in the next one
TIMEOUT = 120  # seconds for one scrape on a loaded machine; generous, it is never asserted


def config():
    # One source, 10,000 loopback targets, each probed once a minute: the scrapes, not the
    # probing, use the memory.
    return {"listen": LISTEN_ANY_PORT, "defaults": {"interval": "60s", "timeout": "1s"},
            "sources": [{"name": "lo", "address": "127.0.0.1"}],
            "targets": [{"name": f"t{i}", "host": f"127.1.{i // 250}.{i % 250 + 1}"}
                        for i in range(PATHS)]}


def sanitized(binary):
    """True for an ASan or TSan build: their allocators keep freed memory on purpose."""
    with open(binary, "rb") as f:
        data = f.read()
    return b"__asan_init" in data or b"__tsan_init" in data


class Scrape:
    """GET /metrics on its own connection, opened at once; send() then read() the whole body."""

    def __init__(self, port, gzip=False):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.gzip = gzip

    def send(self):
        accept = b"Accept-Encoding: gzip\r\n" if self.gzip else b""
        self.sock.sendall(b"GET /metrics HTTP/1.0\r\nHost: test\r\n" + accept + b"\r\n")

    def read(self):
        """(status line, body length); the body is read to the end and dropped."""
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        length = len(rest)
        buf = bytearray(1 << 20)
        while n := self.sock.recv_into(buf):
            length += n
        self.sock.close()
        return head.split(b"\r\n", 1)[0].decode(), length


def scrape_text(port):
    s = Scrape(port)
    s.send()
    data = b""
    while chunk := s.sock.recv(1 << 20):
        data += chunk
    s.sock.close()
    head, _, body = data.partition(b"\r\n\r\n")
    assert b" 200 " in head.split(b"\r\n", 1)[0], head
    return body.decode()


def parallel_scrapes(port, gzip=(False,)):
    """PARALLEL scrapes whose connections are all open before any request is sent, so the
    requests arrive together, asking for gzip by turns from `gzip`; [(status line, body
    length)]."""
    scrapes = [Scrape(port, gzip[i % len(gzip)]) for i in range(PARALLEL)]

    def run(i):
        scrapes[i].send()
        return scrapes[i].read()
    return run_together(PARALLEL, run)


def test_8_parallel_scrapes_of_10000_paths_stay_under_twice_idle_rss_plus_one_body(
        reachmon_bin, workdir):
    if sanitized(reachmon_bin):
        pytest.skip("sanitizer build: its allocator keeps freed memory, RSS says nothing here")
    path = os.path.join(workdir, "10k.json")
    write_json(path, config())
    with Reachmon(reachmon_bin, path) as rm:
        rm.wait_ready(timeout=TIMEOUT)
        pid = rm.proc.pid
        # Warm-up: everything a scrape allocates once (worker stacks, buffers) exists now.
        text = scrape_text(rm.port)
        assert text.count("\nreachmon_path_up{") == PATHS, "every path must be in the body"
        body = len(text.encode())
        idle_kib = status_kib(pid, "VmRSS")
        bound_kib = 2 * idle_kib + body // 1024
        for round_ in range(ROUNDS):
            reset_peak(pid)
            results = parallel_scrapes(rm.port)
            peak_kib = status_kib(pid, "VmHWM")
            for status, length in results:
                assert " 200 " in status + " ", status
                assert abs(length - body) < body // 10, (length, body)  # a whole body each
            assert peak_kib < bound_kib, (
                f"round {round_ + 1}: {PARALLEL} parallel scrapes of {PATHS} paths peaked at "
                f"{peak_kib // 1024} MiB resident; idle {idle_kib // 1024} MiB, body "
                f"{body // 1024 // 1024} MiB, bound 2 x idle + body = {bound_kib // 1024} MiB")


def test_scrapes_of_10000_paths_never_hold_the_text_in_memory(reachmon_bin, workdir):
    """Only the gzip body is kept between scrapes and the text is never whole in memory, so the
    resident memory of a process that has served scrapes, gzip and plain, 8 at once, stays well
    under its RSS before the first scrape plus the text's size. (Keeping the text would put
    that much on top; what scrapes add is mostly the stacks of HTTP workers that served one.)"""
    if sanitized(reachmon_bin):
        pytest.skip("sanitizer build: its allocator keeps freed memory, RSS says nothing here")
    path = os.path.join(workdir, "10k-gzip.json")
    write_json(path, config())
    with Reachmon(reachmon_bin, path) as rm:
        rm.wait_ready(timeout=TIMEOUT)
        pid = rm.proc.pid
        time.sleep(1)  # start-up's allocations are done
        reset_peak(pid)
        before_kib = status_kib(pid, "VmRSS")
        body = len(scrape_text(rm.port).encode())
        for mix in ((True,), (False,), (True, False)):
            for status, _ in parallel_scrapes(rm.port, mix):
                assert " 200 " in status + " ", status
        peak_kib = status_kib(pid, "VmHWM")
        bound_kib = before_kib + body // 2 // 1024
        assert peak_kib < bound_kib, (
            f"scrapes of {PATHS} paths took the process to {peak_kib // 1024} MiB resident from "
            f"{before_kib // 1024} MiB before the first one; the text is "
            f"{body // 1024 // 1024} MiB: it was kept, or built whole")
