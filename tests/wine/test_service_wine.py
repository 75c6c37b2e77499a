#!/usr/bin/env python3
"""reachmon.exe as a Windows service under Wine's service control manager, end to end:
install, start, scrape /metrics from Linux, PARAMCHANGE, config edit, stop within 5 s,
uninstall. (Wine ignores the service account and SourceAddress; see docs/windows.md.)

Wine's sc.exe has no "control" command, so PARAMCHANGE goes through tests/tools/service_control.

Usage: test_service_wine.py REACHMON_EXE SERVICE_CONTROL_EXE WORKDIR
       (WINEPREFIX must be set and initialised)
"""
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from reachmon_testlib import Metrics, TestRun, free_port, wait_for, write_json  # noqa: E402
import urllib.request  # noqa: E402

EVENTLOG_KEY = r"HKLM\SYSTEM\CurrentControlSet\Services\EventLog\Application\reachmon"


def wine(*args, timeout=60):
    """Runs a Wine command. Output goes through files, not pipes: Wine's helper processes
    (services.exe, ...) inherit the handles and would keep pipes open forever."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        p = subprocess.run(["wine", *args], stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                           timeout=timeout)
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(p.args, p.returncode, out.read(), err.read())


class WineSession:
    """Keeps one Wine session (wineserver, services.exe, our service) alive for a whole test.

    A wineserver exits once only system processes are left, and Wine then shuts its services
    down; "wineserver -p" alone did not always prevent that here (it races with the first wine
    command, which may start a server of its own). So: end any server still running, start a
    persistent one, wait until it answers, and keep a user process (a cmd.exe waiting on its
    stdin) attached until the test ends."""

    def __enter__(self):
        subprocess.run(["wineserver", "-k"], capture_output=True)
        subprocess.run(["wineserver", "-w"], capture_output=True)
        self.server = subprocess.Popen(["wineserver", "-p"], stdin=subprocess.DEVNULL,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wine("cmd", "/c", "exit")  # returns once the server is up
        self.anchor = subprocess.Popen(["wine", "cmd"], stdin=subprocess.PIPE,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return self

    def __exit__(self, *exc):
        self.anchor.stdin.close()
        try:
            self.anchor.wait(10)
        except subprocess.TimeoutExpired:
            self.anchor.kill()
        subprocess.run(["wineserver", "-k"], capture_output=True)
        self.server.wait(10)


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        return Metrics(r.read().decode())


def windows_path(path):
    return "Z:" + os.path.abspath(path).replace("/", "\\")


def config(port, targets):
    return {"listen": f"127.0.0.1:{port}", "defaults": {"interval": "200ms", "timeout": "150ms"},
            "sources": [{"name": "lo", "address": "127.0.0.1"}], "targets": targets}


def main():
    exe, control, work = sys.argv[1:4]
    os.makedirs(work, exist_ok=True)
    t = TestRun("wine service")
    prefix = os.environ["WINEPREFIX"]
    port = free_port()
    cfg = os.path.join(work, "reachmon.json")
    self_target = {"name": "self", "host": "127.0.0.1"}
    write_json(cfg, config(port, [self_target]))
    with WineSession():
        return run_checks(t, exe, control, cfg, port, prefix, self_target)


def run_checks(t, exe, control, cfg, port, prefix, self_target):
    try:
        wine(exe, "uninstall")  # leftovers of an interrupted run
        r = wine(exe, "interfaces")
        t.check("interfaces lists index, LUID, GUID and addresses",
                r.returncode == 0 and "luid 0x" in r.stdout and "guid {" in r.stdout and
                "127.0.0.1" in r.stdout, r.stdout + r.stderr)
        r = wine(exe, "install", "--config", windows_path(cfg))
        t.check("install registers the service with a quoted path",
                r.returncode == 0 and '"' in r.stdout and "run --config" in r.stdout, r.stdout + r.stderr)
        q = wine("reg", "query", r"HKLM\SYSTEM\CurrentControlSet\Services\reachmon")
        t.check("the service starts automatically as LocalService",
                re.search(r"Start\s+REG_DWORD\s+0x2\b", q.stdout) is not None and
                re.search(r"ObjectName\s+REG_SZ\s+NT AUTHORITY\\LocalService", q.stdout) is not None,
                q.stdout)
        t.check("Event Log source registered", wine("reg", "query", EVENTLOG_KEY).returncode == 0)

        r = wine("net", "start", "reachmon")
        t.check("net start succeeds", r.returncode == 0, r.stdout + r.stderr)
        t.check("the SCM reports RUNNING", "RUNNING" in wine("sc", "query", "reachmon").stdout)
        wait_for("replies in /metrics", lambda: scrape(port).get(
            "reachmon_probes_replied_total", target="self") >= 3, timeout=15)
        m = scrape(port)
        t.check("/metrics from Linux shows replied probes on the iphlpapi engine",
                m.has("reachmon_build_info", platform="windows", engine="iphlpapi"))

        # PARAMCHANGE alone reloads (the log says so and the success timestamp moves).
        before = scrape(port).get("reachmon_config_last_reload_success_timestamp_seconds")
        time.sleep(1.1)
        wine(control, "reachmon", "paramchange")
        wait_for("a PARAMCHANGE reload", lambda: scrape(port).get(
            "reachmon_config_last_reload_success_timestamp_seconds") > before)
        log_path = os.path.join(prefix, "drive_c", "ProgramData", "reachmon", "logs", "reachmon.log")
        log = open(log_path).read()
        t.check("PARAMCHANGE reloads the config", "config reloaded (PARAMCHANGE)" in log, log[-500:])

        # An edit plus PARAMCHANGE brings the new target in.
        write_json(cfg, config(port, [self_target, {"name": "added", "host": "127.0.0.1"}]))
        wine(control, "reachmon", "paramchange")
        wait_for("the new target", lambda: scrape(port).has("reachmon_probes_sent_total", target="added"))
        t.check("the new target appears after the edit", True)

        start = time.monotonic()
        r = wine("net", "stop", "reachmon")
        elapsed = time.monotonic() - start
        t.check(f"net stop returns within 5 s ({elapsed:.2f} s)", r.returncode == 0 and elapsed < 5,
                r.stdout + r.stderr)
        t.check("the SCM reports STOPPED", "STOPPED" in wine("sc", "query", "reachmon").stdout)
        t.check("the log file under ProgramData records the run",
                "probing" in open(log_path).read() and "stopping" in open(log_path).read())

        r = wine(exe, "uninstall")
        t.check("uninstall removes the service", r.returncode == 0 and
                wine("sc", "query", "reachmon").returncode != 0, r.stdout + r.stderr)
        t.check("uninstall removes the Event Log source",
                wine("reg", "query", EVENTLOG_KEY).returncode != 0)

        # Not started by the SCM, the same command runs in the console and stops on Ctrl-C.
        with tempfile.TemporaryFile("w+") as out:
            console = subprocess.Popen(["wine", exe, "run", "--config", windows_path(cfg)],
                                       stdin=subprocess.DEVNULL, stdout=out, stderr=out)
            wait_for("console mode to serve", lambda: scrape(port).get(
                "reachmon_probes_replied_total", target="self") >= 1, timeout=30)
            console.send_signal(signal.SIGINT)  # Wine turns it into CTRL_C_EVENT
            rc = console.wait(10)
            out.seek(0)
            text = out.read()
        t.check("console mode (no SCM) probes, and Ctrl-C stops it cleanly",
                rc == 0 and "stopping" in text, text[-500:])
    except Exception:
        # Leave the next engineer something to go on: what the SCM and the service said.
        print("sc query:", wine("sc", "query", "reachmon").stdout)
        log_file = os.path.join(prefix, "drive_c", "ProgramData", "reachmon", "logs", "reachmon.log")
        if os.path.exists(log_file):
            print("service log:\n" + open(log_file).read()[-3000:])
        print(subprocess.run(["ps", "-eo", "pid,etime,args"], capture_output=True,
                             text=True).stdout[-3000:])
        raise
    finally:
        wine(exe, "uninstall")
    return t.close()


if __name__ == "__main__":
    sys.exit(main())
