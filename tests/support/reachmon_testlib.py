"""Helpers for reachmon's process-level tests: run the real binary, scrape it over real HTTP.
Python standard library only; the pytest fixtures built on them live in tests/conftest.py."""
import json
import os
import re
import select
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request

# Every reachmon a test starts listens here; reachmon logs the port it bound (see LISTEN_LOG).
LISTEN_ANY_PORT = "127.0.0.1:0"
# "reachmon 0.1.0 probing 3 paths with the icmp-dgram engine;
#  metrics on http://127.0.0.1:40123/metrics" (one line)
LISTEN_LOG = re.compile(r"probing \d+ paths with the \S+ engine; "
                        r"metrics on https?://127\.0\.0\.1:(\d+)/metrics")


def sh(cmd, check=True):
    r = subprocess.run(cmd, shell=True, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"command failed ({r.returncode}): {cmd}\n{r.stdout}{r.stderr}")
    return r.stdout


def wait_for(what, predicate, timeout=10.0, interval=0.05):
    """Polls `predicate` until it returns something true and returns that; AssertionError after
    `timeout` seconds. Tests wait for what they need instead of sleeping for a guessed time."""
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


def wait_metrics(what, fetch, predicate, timeout=10.0):
    """Scrapes with `fetch()` until `predicate(metrics)` holds and returns those metrics, so a
    test asserts on the very scrape that satisfied the wait."""
    def check():
        m = fetch()
        return m if predicate(m) else None
    return wait_for(what, check, timeout)


def listen_port(log_text):
    """The port of the last "metrics on http://127.0.0.1:PORT/metrics" line in a log, or None."""
    ports = LISTEN_LOG.findall(log_text)
    return int(ports[-1]) if ports else None


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


# Per-path counters that reachmon creates when their count first rises above 0 (docs/metrics.md,
# "Series that appear on first occurrence"): a path that has none of them counted 0.
LAZY_COUNTERS = frozenset({"reachmon_probe_errors_total", "reachmon_late_replies_total",
                           "reachmon_duplicate_replies_total", "reachmon_corrupted_replies_total"})


class Metrics:
    def __init__(self, text):
        self.text = text
        self.samples = parse_metrics(text)

    def _paths(self, labels):
        """How many paths (reachmon_probes_scheduled_total series, which every path has) match
        `labels` less `reason`."""
        want = {(k, v) for k, v in labels.items() if k != "reason"}
        return sum(1 for (n, ls) in self.samples
                   if n == "reachmon_probes_scheduled_total" and want <= set(ls))

    def get(self, name, **labels):
        """The one sample of `name` whose labels include `labels`; KeyError if none. A lazily
        created counter (LAZY_COUNTERS) without a series is 0 when `labels` name one path."""
        want = set(labels.items())
        found = [v for (n, ls), v in self.samples.items() if n == name and want <= set(ls)]
        if not found and name in LAZY_COUNTERS and self._paths(labels) == 1:
            return 0.0
        if len(found) != 1:
            raise KeyError(f"{name}{labels}: {len(found)} samples")
        return found[0]

    def has(self, name, **labels):
        want = set(labels.items())
        return any(n == name and want <= set(ls) for (n, ls) in self.samples)

    def series(self, name, **labels):
        """Every sample of `name` whose labels include `labels`, as [(labels dict, value)]."""
        want = set(labels.items())
        return [(dict(ls), v) for (n, ls), v in self.samples.items()
                if n == name and want <= set(ls)]

    def total(self, name, **labels):
        """The sum of every sample of `name` whose labels include `labels` (e.g. a path's
        errors over all reasons); KeyError if there is none, so a missing metric never sums
        to a vacuous 0. A lazily created counter (LAZY_COUNTERS) sums to 0 over paths that
        exist but have no series of it."""
        found = self.series(name, **labels)
        if not found and name in LAZY_COUNTERS and self._paths(labels) > 0:
            return 0.0
        if not found:
            raise KeyError(f"{name}{labels}: no samples")
        return sum(v for _, v in found)


def assert_promtool_clean(exposition):
    """Prometheus' own linter accepts the exposition text without a word."""
    lint = subprocess.run(["promtool", "check", "metrics"], input=exposition,
                          capture_output=True, text=True)
    out = lint.stdout + lint.stderr
    assert lint.returncode == 0 and not out.strip(), out


def scrape(port):
    """GET /metrics of a reachmon on this host's loopback (e.g. the Windows one under Wine)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        return Metrics(r.read().decode())


def wait_exit(proc, timeout, since=None):
    """Waits for `proc` to exit; returns (returncode, seconds from `since` (a time.monotonic()
    value, default now) to the exit). The exit is seen through a pidfd as it happens rather than
    by polling, so the time measured is the process's, not the poll interval's.
    (None, elapsed) if it is still running after `timeout` seconds."""
    start = time.monotonic() if since is None else since
    deadline = time.monotonic() + timeout
    try:
        fd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):  # no pidfd (old kernel) or already reaped
        fd = None
    if fd is not None:
        try:
            select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        finally:
            os.close(fd)
        elapsed = time.monotonic() - start
        return proc.poll(), elapsed
    try:
        rc = proc.wait(max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        rc = None
    return rc, time.monotonic() - start


class Reachmon:
    """A `reachmon run` process, optionally inside a network namespace, its output in a log file.

    Its config should listen on LISTEN_ANY_PORT: `port` is read from the start-up log line once
    wait_ready() returned. A context manager: leaving the block always stops the process."""

    def __init__(self, binary, config_path, netns=None, log_path=None, args=(), prefix=()):
        self.port = None
        self.netns = netns
        self.log_path = log_path or config_path + ".log"
        cmd = [*prefix, binary, "run", "--config", config_path, *args]
        if netns:
            cmd = ["ip", "netns", "exec", netns, *cmd]
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def url(self, path):
        assert self.port is not None, "call wait_ready() first: the port comes from the log"
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
        req = urllib.request.Request(self.url(path), data=data,
                                     method="POST" if data is not None else "GET")
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

    def _check_running(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"reachmon exited with {self.proc.returncode}:\n{self.read_log()}")

    def wait_ready(self, timeout=15):
        """Waits for the start-up line naming the port, then for /-/healthy to answer 200."""
        def port():
            self._check_running()
            return listen_port(self.read_log())
        self.port = wait_for("reachmon to log the port it listens on", port, timeout)

        def healthy():
            self._check_running()
            return self.get("/-/healthy")[0] == 200
        wait_for("reachmon to answer /-/healthy", healthy, timeout)
        return self

    def read_log(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def stop(self, timeout=5):
        """SIGTERM, then SIGKILL after `timeout` seconds; returns the exit code. Idempotent."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


def status_kib(pid, field):
    """A memory figure of /proc/PID/status in KiB, e.g. status_kib(pid, "VmHWM")."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def reset_peak(pid):
    """Sets the process's high-water mark (VmHWM) to its current RSS."""
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")


def run_together(n, fn):
    """fn(0) ... fn(n-1), each on its own thread, all released at once; their results in order.
    Raises the first exception any of them raised, after all have ended."""
    results, errors = [None] * n, []
    start = threading.Barrier(n)

    def one(i):
        try:
            start.wait()
            results[i] = fn(i)
        except Exception as e:  # noqa: BLE001 (re-raised below)
            errors.append(e)
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


def write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2)
    os.replace(tmp, path)


def read_json(path):
    with open(path) as f:
        return json.load(f)


def read_text(path):
    with open(path) as f:
        return f.read()
