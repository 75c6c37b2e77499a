"""Helpers for reachmon's process-level tests: run the real binary, scrape it over real HTTP,
build network namespaces. Standard library only."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

SKIP = 77  # ctest SKIP_RETURN_CODE


def require_root():
    if os.geteuid() != 0:
        print("SKIP: needs root (network namespaces, sysctl, raw sockets)")
        sys.exit(SKIP)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sh(cmd, check=True):
    r = subprocess.run(cmd, shell=True, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"command failed ({r.returncode}): {cmd}\n{r.stdout}{r.stderr}")
    return r.stdout


def wait_for(what, predicate, timeout=10.0, interval=0.05):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except (OSError, urllib.error.URLError, ValueError, KeyError) as e:
            last = e
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


_LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    """Returns {(name, frozenset(labels.items())): value}."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _LINE.match(line)
        if not m:
            raise ValueError(f"unparsable metrics line: {line!r}")
        labels = frozenset(_LABEL.findall(m.group(3) or ""))
        out[(m.group(1), labels)] = float(m.group(4))
    return out


class Metrics:
    def __init__(self, text):
        self.text = text
        self.samples = parse_metrics(text)

    def get(self, name, **labels):
        """The one sample of `name` whose labels include `labels`; KeyError if none."""
        want = set(labels.items())
        found = [v for (n, ls), v in self.samples.items() if n == name and want <= set(ls)]
        if len(found) != 1:
            raise KeyError(f"{name}{labels}: {len(found)} samples")
        return found[0]

    def has(self, name, **labels):
        want = set(labels.items())
        return any(n == name and want <= set(ls) for (n, ls) in self.samples)


class Reachmon:
    """A reachmon process, optionally inside a network namespace."""

    def __init__(self, binary, config_path, port, netns=None, log_path=None, args=(), prefix=()):
        self.port = port
        self.netns = netns
        self.log_path = log_path or config_path + ".log"
        cmd = [*prefix, binary, "run", "--config", config_path, *args]
        if netns:
            cmd = ["ip", "netns", "exec", netns, *cmd]
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def _open(self, path, data=None):
        if self.netns:  # HTTP into the namespace through curl, which runs inside it
            args = ["ip", "netns", "exec", self.netns, "curl", "-s", "-w", "\n%{http_code}",
                    "--max-time", "5", self.url(path)]
            if data is not None:
                args[6:6] = ["-X", "POST"]
            r = subprocess.run(args, capture_output=True, text=True)
            if r.returncode != 0:
                raise OSError(f"curl failed: {r.returncode}")
            body, _, code = r.stdout.rpartition("\n")
            return int(code), body
        req = urllib.request.Request(self.url(path), data=data, method="POST" if data is not None else "GET")
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def get(self, path):
        return self._open(path)

    def post(self, path):
        return self._open(path, data=b"")

    def metrics(self):
        code, body = self.get("/metrics")
        if code != 200:
            raise OSError(f"/metrics answered {code}")
        return Metrics(body)

    def wait_ready(self, timeout=10):
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"reachmon exited with {self.proc.returncode}:\n{self.read_log()}")
            return self.get("/-/healthy")[0] == 200
        wait_for("reachmon to answer /-/healthy", ready, timeout)

    def read_log(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def stop(self, timeout=5):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


def write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2)
    os.replace(tmp, path)


def read_json(path):
    with open(path) as f:
        return json.load(f)


class TestRun:
    """Collects named checks and prints a pass/fail summary line that CI understands."""

    def __init__(self, name):
        self.name = name
        self.passed = 0
        self.failed = 0

    def check(self, label, ok, detail=""):
        if ok:
            self.passed += 1
            print(f"  ok   {label}")
        else:
            self.failed += 1
            print(f"  FAIL {label} {detail}")

    def close(self):
        print(f"{self.name}: {self.passed} passed, {self.failed} failed")
        return 1 if self.failed else 0
