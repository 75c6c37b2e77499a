#!/usr/bin/env python3
"""Memory of /metrics scrapes: idle RSS, body size, the peak RSS of one scrape and of 8 parallel
scrapes, for 10,000 paths (and more with --paths).

The paths are one source (127.0.0.1) times N loopback targets (127.a.b.c) probed once a minute,
so probing is light and the figures are the scrapes'. Peaks are the kernel's high-water mark
(VmHWM in /proc/PID/status), reset before each measurement by writing 5 to /proc/PID/clear_refs.
Idle RSS is read after one warm-up scrape, as tests/integration/test_scrape_memory.py does.

Usage (root or not; loopback only): bench/scrape_memory.py [--build-dir DIR] [--paths 10000 ...]
                                     [--rounds 3]     Results are printed as Markdown.
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "support"))
from reachmon_testlib import listen_port, reset_peak, run_together, status_kib  # noqa: E402


def config(paths):
    return {"listen": "127.0.0.1:0", "defaults": {"interval": "60s", "timeout": "1s"},
            "sources": [{"name": "lo", "address": "127.0.0.1"}],
            "targets": [{"name": f"t{i}", "host": f"127.{1 + i // 62500}.{i // 250 % 250}."
                         f"{i % 250 + 1}"} for i in range(paths)]}


def scrape(port, timeout=300):
    """GET /metrics over a plain socket, reading (and discarding) the whole body; its length."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(b"GET /metrics HTTP/1.0\r\nHost: bench\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = s.recv(65536)
            if not chunk:
                raise OSError("connection closed in the headers")
            head += chunk
        head, _, rest = head.partition(b"\r\n\r\n")
        if b" 200 " not in head.split(b"\r\n", 1)[0] + b" ":
            raise OSError(f"/metrics answered {head.splitlines()[0]!r}")
        length = len(rest)
        buf = bytearray(1 << 20)
        while n := s.recv_into(buf):
            length += n
        return length


def parallel_scrapes(port, n):
    """n scrapes started together (each on its own connection); their body lengths."""
    return run_together(n, lambda _: scrape(port))


def wait_ready(proc, log_path, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"reachmon exited with {proc.returncode}:\n{open(log_path).read()}")
        if port := listen_port(open(log_path).read()):
            return port
        time.sleep(0.1)
    raise RuntimeError("reachmon did not log its port in time")


def measure(binary, paths, rounds, work):
    cfg = os.path.join(work, f"{paths}.json")
    with open(cfg, "w") as f:
        json.dump(config(paths), f)
    log_path = cfg + ".log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([binary, "run", "--config", cfg], stdout=log,
                                stderr=subprocess.STDOUT)
    try:
        port = wait_ready(proc, log_path)
        body = scrape(port)  # warm-up: every lazily allocated piece exists now
        time.sleep(1)
        idle = status_kib(proc.pid, "VmRSS")
        single, single_took = 0, 0
        for _ in range(rounds):
            reset_peak(proc.pid)
            t0 = time.monotonic()
            scrape(port)
            single_took = max(single_took, time.monotonic() - t0)
            single = max(single, status_kib(proc.pid, "VmHWM"))
        par, par_took = 0, 0
        for _ in range(rounds):
            reset_peak(proc.pid)
            t0 = time.monotonic()
            parallel_scrapes(port, 8)
            par_took = max(par_took, time.monotonic() - t0)
            par = max(par, status_kib(proc.pid, "VmHWM"))
        after = status_kib(proc.pid, "VmRSS")
        return {"paths": paths, "idle": idle, "body": body / 1024, "single": single,
                "parallel": par, "after": after, "single_took": single_took,
                "par_took": par_took}
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    ap.add_argument("--paths", type=int, nargs="+", default=[10000])
    ap.add_argument("--rounds", type=int, default=3, help="measurements per peak (max is kept)")
    args = ap.parse_args()
    binary = os.path.join(args.build_dir, "service", "reachmon")
    mib = lambda kib: f"{kib / 1024:.0f} MiB"  # noqa: E731
    print("| paths | idle RSS | body | 1 scrape: peak RSS | 8 parallel: peak RSS "
          "| bound: 2 x idle + body | RSS after | 1 scrape took | 8 parallel took |")
    print("|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as work:
        for n in args.paths:
            r = measure(binary, n, args.rounds, work)
            print(f"| {n:,} | {mib(r['idle'])} | {mib(r['body'])} | {mib(r['single'])} "
                  f"| {mib(r['parallel'])} | {mib(2 * r['idle'] + r['body'])} "
                  f"| {mib(r['after'])} | {r['single_took']:.2f} s | {r['par_took']:.2f} s |",
                  flush=True)


if __name__ == "__main__":
    sys.exit(main())
