"""The command line as operators use it, and what `reachmon run` tells systemd.

- Options: `--help` on every command, `--opt=value` and `--opt value` alike, short options,
  clear usage errors (exit 2) naming the option.
- `reachmon probe` behaves like ping: continuous until Ctrl-C (then a summary), `-c N`,
  line-buffered output into a pipe, sequence numbers, `--all-sources` (every uplink at once, in
  network namespaces with one uplink that answers and one that does not).
- `reachmon run --listen` overrides the config's address; `--log-format json` writes one JSON
  object per line.
- systemd: READY=1, WATCHDOG=1, RELOADING=1 ... READY=1 and STOPPING=1 reach a NOTIFY_SOCKET the
  test binds (the protocol systemd speaks); when stderr is the journal (JOURNAL_STREAM), lines
  reach the journal's socket (a fake one in a private mount namespace) with their priorities.

Run by ctest (cli): pytest test_cli.py --reachmon=BINARY --responder=ICMP_RESPONDER --workdir=DIR
"""
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time

import pytest
from reachmon_testlib import LISTEN_ANY_PORT, listen_port, wait_exit, wait_for, write_json
from topology import Topology

COMMANDS = ["run", "check-config", "probe", "interfaces", "hash-password"]


def run(*cmd, timeout=20, **kwargs):
    return subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout, **kwargs)


def loopback_config(listen=LISTEN_ANY_PORT):
    return {"listen": listen, "defaults": {"interval": "100ms", "timeout": "80ms"},
            "sources": [{"name": "lo4", "address": "127.0.0.1"}],
            "targets": [{"name": "t1", "host": "127.0.0.1"}]}


# --- options -------------------------------------------------------------------------------------

@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_its_own_help(reachmon_bin, command):
    r = run(reachmon_bin, command, "--help")
    assert r.returncode == 0, r.stderr
    assert f"Usage: reachmon {command}" in r.stdout, r.stdout


def test_run_help_lists_the_operator_options(reachmon_bin):
    r = run(reachmon_bin, "run", "--help")
    for option in ("-c,--config", "--listen", "--log-level", "--log-format"):
        assert option in r.stdout, f"{option} missing from run --help:\n{r.stdout}"


def test_version_short_and_long(reachmon_bin):
    for flag in ("-V", "--version"):
        r = run(reachmon_bin, flag)
        assert r.returncode == 0 and re.fullmatch(r"reachmon \d+\.\d+\.\d+\n", r.stdout), r.stdout


@pytest.mark.parametrize("args,needle", [
    (["run", "--log-format", "xml"], "--log-format"),
    (["run", "--log-level=loud"], "--log-level"),
    (["run", "--listen", "localhost:80"], "invalid listen address \"localhost:80\""),
    (["run", "--frobnicate"], "--frobnicate"),
    (["probe", "127.0.0.1"], "--source (or --all-sources) is required"),
    (["probe", "-I", "127.0.0.1"], "TARGET (or --target) is required"),
    (["probe", "-I", "127.0.0.1", "--all-sources", "127.0.0.1"], "--all-sources"),
    (["probe", "-I", "127.0.0.1", "-c", "0", "127.0.0.1"], "--count"),
    (["probe", "-I", "127.0.0.1", "--udp", "65536", "127.0.0.1"], "--udp"),
    (["hash-password", "--cost", "3"], "--cost"),
    (["check-config"], "FILE is required"),
])
def test_usage_errors_exit_2_and_name_the_option(reachmon_bin, args, needle):
    r = run(reachmon_bin, *args, timeout=10)
    assert r.returncode == 2, f"exit {r.returncode}: {r.stdout}{r.stderr}"
    assert needle in r.stderr, r.stderr
    assert f"Run 'reachmon {args[0]} --help' for usage." in r.stderr, r.stderr


def test_probe_accepts_long_short_and_equals_forms_alike(reachmon_bin):
    forms = [
        ["--source", "127.0.0.1", "--target", "127.0.0.1", "--count", "2", "--interval", "50ms",
         "--timeout", "1s"],
        ["-I", "127.0.0.1", "-c", "2", "-i", "50ms", "-W", "1s", "127.0.0.1"],
        ["--source=127.0.0.1", "--count=2", "--interval=50ms", "--timeout=1s", "127.0.0.1"],
    ]
    for form in forms:
        r = run(reachmon_bin, "probe", *form)
        assert r.returncode == 0, f"{form}: {r.stdout}{r.stderr}"
        assert "2 probes, 2 replied, 0.0% loss" in r.stdout, f"{form}: {r.stdout}"


# --- probe like ping ------------------------------------------------------------------------------

def test_probe_with_count_numbers_every_probe(reachmon_bin):
    r = run(reachmon_bin, "probe", "-I", "127.0.0.1", "-c", "4", "-i", "100ms", "-W", "1s",
            "127.0.0.1")
    assert r.returncode == 0, r.stdout + r.stderr
    # "time=?": two replies came within one look of the printer (a loaded machine)
    seqs = [int(s) for s in re.findall(
        r"reply from 127\.0\.0\.1: seq=(\d+) time=(?:[\d.]+|\?) ms", r.stdout)]
    assert seqs == [1, 2, 3, 4], r.stdout


def read_line(proc, deadline):
    """One line of proc's stdout, or None at `deadline` (monotonic)."""
    line = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        ch = os.read(proc.stdout.fileno(), 1)
        if not ch:
            break
        line += ch
        if ch == b"\n":
            return line.decode()
    return None


def test_probe_runs_until_ctrl_c_with_lines_as_they_come_and_a_summary(reachmon_bin):
    """No -c: probes until SIGINT. Each line reaches the pipe when its probe ends (not when the
    buffer fills), and Ctrl-C prints the summary of what was printed, exit 0."""
    proc = subprocess.Popen([reachmon_bin, "probe", "-I", "127.0.0.1", "-i", "100ms", "-W", "1s",
                             "127.0.0.1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        header = read_line(proc, deadline)
        assert header and header.startswith("PROBE 127.0.0.1"), header
        lines = [read_line(proc, deadline) for _ in range(3)]
        assert all(line and "reply from 127.0.0.1" in line for line in lines), lines
        assert proc.poll() is None, "probe ended by itself without -c"
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    rest = rest.decode()
    replies = 3 + rest.count("reply from 127.0.0.1")
    assert proc.returncode == 0, rest + err.decode()
    assert f"{replies} probes, {replies} replied, 0.0% loss" in rest, rest


# --- run: --listen, --log-format -------------------------------------------------------------------

def test_run_listen_overrides_the_config_and_logs_json(reachmon_bin, workdir):
    """The config names an address this host does not have; --listen serves elsewhere. The
    json format: every line one object with ts, level and msg."""
    cfg = os.path.join(workdir, "listen.json")
    write_json(cfg, loopback_config(listen="192.0.2.1:9643"))
    log = os.path.join(workdir, "listen.log")
    with open(log, "w") as out:
        proc = subprocess.Popen([reachmon_bin, "run", "-c", cfg, "--listen=127.0.0.1:0",
                                 "--log-format", "json"], stdout=out, stderr=subprocess.STDOUT)
    try:
        port = wait_for("the port in the log", lambda: listen_port(open(log).read()), 10)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"GET /-/healthy HTTP/1.0\r\n\r\n")
            assert b" 200 OK" in s.recv(100).split(b"\r\n")[0], "not served on --listen"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(5)
    lines = open(log).read().splitlines()
    assert lines, "no log"
    for line in lines:
        obj = json.loads(line)  # each line parses alone
        assert set(obj) == {"ts", "level", "msg"}, line
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", obj["ts"]), line
    assert any(o["level"] == "info" and "probing 1 paths" in o["msg"]
               for o in map(json.loads, lines)), lines


# --- systemd ---------------------------------------------------------------------------------------

class NotifySocket:
    """The service manager's end of sd_notify: a datagram socket whose path goes in
    NOTIFY_SOCKET."""

    def __init__(self, path):
        self.path = path
        if os.path.exists(path):
            os.unlink(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.messages = []

    def wait(self, what, predicate, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self.messages):
                return
            ready, _, _ = select.select([self.sock], [], [], 0.1)
            if ready:
                self.messages.append(self.sock.recv(4096).decode())
        raise AssertionError(f"no {what} in {self.messages}")

    def drain(self):
        """Reads every datagram already sent."""
        self.sock.setblocking(False)
        try:
            while True:
                self.messages.append(self.sock.recv(4096).decode())
        except BlockingIOError:
            pass
        finally:
            self.sock.setblocking(True)

    def close(self):
        self.sock.close()
        os.unlink(self.path)


def test_run_speaks_sd_notify_ready_watchdog_reload_and_stopping(reachmon_bin, workdir):
    notify = NotifySocket(os.path.join(workdir, "notify.sock"))
    cfg = os.path.join(workdir, "notify.json")
    write_json(cfg, loopback_config())
    env = dict(os.environ, NOTIFY_SOCKET=notify.path, WATCHDOG_USEC="4000000")
    log = open(os.path.join(workdir, "notify.log"), "w")
    proc = subprocess.Popen([reachmon_bin, "run", "--config", cfg], env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        notify.wait("READY=1", lambda m: any(x.startswith("READY=1") for x in m))
        assert "STATUS=probing" in notify.messages[0], notify.messages
        notify.wait("3 keep-alives", lambda m: m.count("WATCHDOG=1") >= 3, timeout=15)
        proc.send_signal(signal.SIGHUP)
        notify.wait("a reload", lambda m: any(x.startswith("RELOADING=1") for x in m))
        at = next(i for i, x in enumerate(notify.messages) if x.startswith("RELOADING=1"))
        notify.wait("READY=1 after the reload",
                    lambda m: any(x.startswith("READY=1") for x in m[at:]))
        after = [x for x in notify.messages[at:] if x.startswith("READY=1")][0]
        assert "STATUS=config reloaded: 1 paths" in after, notify.messages
        assert "MONOTONIC_USEC=" in notify.messages[at], notify.messages
        proc.send_signal(signal.SIGTERM)
        rc, _ = wait_exit(proc, 5)
        notify.wait("STOPPING=1", lambda m: any(x.startswith("STOPPING=1") for x in m), 2)
        assert rc == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        log.close()
        notify.close()


def test_without_a_watchdog_no_keep_alives_are_sent(reachmon_bin, workdir):
    notify = NotifySocket(os.path.join(workdir, "nowd.sock"))
    cfg = os.path.join(workdir, "nowd.json")
    write_json(cfg, loopback_config())
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHDOG_")}
    env["NOTIFY_SOCKET"] = notify.path
    proc = subprocess.Popen([reachmon_bin, "run", "--config", cfg], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        notify.wait("READY=1", lambda m: any(x.startswith("READY=1") for x in m))
        time.sleep(2.5)  # two or more rounds of the main loop
        proc.send_signal(signal.SIGHUP)  # and something that does come: the socket still works
        notify.wait("a reload", lambda m: any(x.startswith("RELOADING=1") for x in m))
        notify.drain()
        assert "WATCHDOG=1" not in notify.messages, notify.messages
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(5)
        notify.close()


JOURNAL_CHILD = r"""
import os, select, socket, subprocess, sys, time, json, signal
reachmon, cfg, log = sys.argv[1:4]
os.makedirs("/run/systemd/journal", exist_ok=True)
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/run/systemd/journal/socket")
err = open(log, "w")
st = os.fstat(err.fileno())
env = dict(os.environ, JOURNAL_STREAM=f"{st.st_dev}:{st.st_ino}")
p = subprocess.Popen([reachmon, "run", "--config", cfg], env=env, stdout=err, stderr=err)
got, deadline, reloaded = [], time.monotonic() + 10, False
while time.monotonic() < deadline:
    r, _, _ = select.select([s], [], [], 0.1)
    if r:
        got.append(s.recv(65536).decode(errors="replace"))
    if not reloaded and any("probing" in g for g in got):
        with open(cfg, "w") as f:
            f.write("{ broken")
        p.send_signal(signal.SIGHUP)
        reloaded = True
    if any("refused" in g for g in got):
        break
p.send_signal(signal.SIGTERM)
p.wait(5)
print(json.dumps(got))
"""


@pytest.mark.root
def test_under_the_journal_every_line_keeps_its_priority(reachmon_bin, workdir):
    """stderr is the journal (JOURNAL_STREAM names it): lines go over the journal's native
    protocol with PRIORITY (6 info, 3 error), identifier reachmon, and nothing goes to stderr.
    The journal's socket is the test's, in a private mount namespace (tmpfs over /run)."""
    cfg = os.path.join(workdir, "journal.json")
    write_json(cfg, loopback_config())
    log = os.path.join(workdir, "journal-stderr.log")
    r = run("unshare", "--mount", "--propagation", "private", "sh", "-c",
            'mount -t tmpfs tmpfs /run && exec "$0" "$@"', sys.executable, "-c", JOURNAL_CHILD,
            reachmon_bin, cfg, log, timeout=30)
    assert r.returncode == 0, r.stderr
    entries = [dict(line.split("=", 1) for line in e.splitlines() if "=" in line)
               for e in json.loads(r.stdout)]
    start = [e for e in entries if "probing 1 paths" in e.get("MESSAGE", "")]
    refused = [e for e in entries if "refused" in e.get("MESSAGE", "")]
    assert start and start[0]["PRIORITY"] == "6", entries
    assert refused and refused[0]["PRIORITY"] == "3", entries
    assert all(e.get("SYSLOG_IDENTIFIER") == "reachmon" for e in entries), entries
    assert "probing" not in open(log).read(), "logged to stderr as well"


# --- probe --all-sources, in namespaces -------------------------------------------------------------

@pytest.mark.root
def test_probe_all_sources_shows_which_uplink_answers(reachmon_bin, path_option, workdir):
    """Uplink A answers (a responder), uplink B drops everything (no responder, no kernel echo):
    --all-sources probes from a0 and b0 at once and says so per source; exit 1 (a source had no
    reply). lo is not a source for a target elsewhere."""
    with Topology() as topo:
        stats = os.path.join(workdir, "responder-stats.json")
        if os.path.exists(stats):
            os.unlink(stats)
        topo.start(topo.a, [path_option("responder"), "--stats", stats],
                   os.path.join(workdir, "responder.log"))
        wait_for("the responder to start", lambda: os.path.exists(stats))
        r = run("ip", "netns", "exec", topo.m, reachmon_bin, "probe", "--all-sources", "-c", "5",
                "-i", "200ms", "-W", "1s", "192.0.2.10", timeout=30)
    out = r.stdout
    assert r.returncode == 1, out + r.stderr
    assert "from a0, b0:" in out, out
    assert re.search(r"^\[a0\] reply from 192\.0\.2\.10: seq=5 ", out, re.M), out
    assert re.search(r"^\[b0\] timeout: seq=5$", out, re.M), out
    assert "--- 192.0.2.10 from a0 ---\n5 probes, " in out, out
    assert "--- 192.0.2.10 from b0 ---\n5 probes, 0 replied, 100.0% loss" in out, out
    assert "--- 192.0.2.10 from a0 ---\n5 probes, 5 replied, 0.0% loss" in out, out


UNIT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "installer", "linux",
                    "reachmon.service")


def unit_values(key):
    return [line.split("=", 1)[1] for line in open(UNIT).read().splitlines()
            if line.startswith(key + "=")]


def test_the_unit_uses_what_run_tells_systemd(reachmon_bin, workdir):
    """The shipped unit waits for READY=1 (Type=notify), its watchdog leaves room for keep-alives
    about once a second, and `systemctl reload` checks the same file ExecStart runs with before
    it signals: run here with the unit's own arguments, a broken file fails the reload."""
    assert unit_values("Type") == ["notify"]
    wd = unit_values("WatchdogSec")
    assert len(wd) == 1 and wd[0].endswith("s") and int(wd[0][:-1]) >= 3, wd
    start = unit_values("ExecStart")[0].split()
    config = start[start.index("--config") + 1]
    reload = [r.split() for r in unit_values("ExecReload")]
    assert reload[0] == [start[0], "check-config", config], reload
    assert reload[-1] == ["/bin/kill", "-HUP", "$MAINPID"], reload
    broken = os.path.join(workdir, "unit-broken.json")
    with open(broken, "w") as f:
        f.write('{"listen": "127.0.0.1:9643", "sources": []')
    r = run(reachmon_bin, *reload[0][1:-1], broken)
    assert r.returncode == 1 and "error" in r.stderr, r.stderr
    good = os.path.join(workdir, "unit-good.json")
    write_json(good, loopback_config())
    assert run(reachmon_bin, *reload[0][1:-1], good).returncode == 0
