#!/usr/bin/env python3
"""The reachmon binary as an operator runs it, probing loopback: check-config, HTTP endpoints,
reload by file edit / POST / SIGHUP (valid edits keep survivors' counters, invalid ones are
refused and keep the running config), clean and fast shutdown, start-up failures.

Usage: test_service.py REACHMON_BINARY WORKDIR
"""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from reachmon_testlib import Reachmon, TestRun, free_port, wait_for, write_json  # noqa: E402

CONFIG_DIR = os.path.join(os.path.dirname(__file__), "..", "config")


def config(port, targets):
    return {
        "listen": f"127.0.0.1:{port}",
        "defaults": {"interval": "100ms", "timeout": "80ms"},
        "sources": [{"name": "lo4", "address": "127.0.0.1"}, {"name": "lo6", "address": "::1"}],
        "targets": targets,
    }


T1 = {"name": "t1", "host": "127.0.0.1", "labels": {"role": "survivor"}}
T2 = {"name": "t2", "host": "127.0.0.2"}
T3 = {"name": "t3", "host": "127.0.0.3"}
T6 = {"name": "t6", "host": "::1"}


def sent(rm, target, source="lo4"):
    return rm.metrics().get("reachmon_probes_sent_total", source=source, target=target)


def check_config_cli(t, binary, work):
    ok = subprocess.run([binary, "check-config", os.path.join(CONFIG_DIR, "valid", "loopback.json")],
                        capture_output=True, text=True)
    t.check("check-config accepts a valid file", ok.returncode == 0 and "OK" in ok.stdout, ok.stderr)
    bad_path = os.path.join(CONFIG_DIR, "invalid", "every_error_at_once.json")
    bad = subprocess.run([binary, "check-config", bad_path], capture_output=True, text=True)
    expected = open(os.path.join(CONFIG_DIR, "invalid", "every_error_at_once.expected")).read()
    lines = [f"{bad_path}: {line}" for line in expected.splitlines()]
    t.check("check-config prints every error with its JSON path and exits 1",
            bad.returncode == 1 and all(line in bad.stderr for line in lines), bad.stderr)
    usage = subprocess.run([binary, "frobnicate"], capture_output=True, text=True)
    t.check("an unknown command is a usage error", usage.returncode == 2 and "unknown command" in usage.stderr)
    probe = subprocess.run([binary, "probe", "--source", "127.0.0.1", "--target", "127.0.0.1",
                            "--count", "3", "--interval", "100ms", "--timeout", "50ms"],
                           capture_output=True, text=True, timeout=20)
    t.check("probe sends N one-off probes and summarises them",
            probe.returncode == 0 and probe.stdout.count("reply from 127.0.0.1") == 3 and
            "3 probes, 3 replied, 0.0% loss" in probe.stdout, probe.stdout + probe.stderr)
    ifs = subprocess.run([binary, "interfaces"], capture_output=True, text=True)
    t.check("interfaces lists loopback with its addresses",
            ifs.returncode == 0 and "lo  index 1  up" in ifs.stdout and "127.0.0.1" in ifs.stdout, ifs.stdout)
    helped = subprocess.run([binary, "--help"], capture_output=True, text=True)
    t.check("--help documents every command",
            helped.returncode == 0 and all(c in helped.stdout for c in
                                           ("run", "check-config", "interfaces", "probe")))


def main():
    binary, work = sys.argv[1:3]
    os.makedirs(work, exist_ok=True)
    t = TestRun("service")
    check_config_cli(t, binary, work)

    port = free_port()
    cfg = os.path.join(work, "service.json")
    write_json(cfg, config(port, [T1, T2, T6]))
    rm = Reachmon(binary, cfg, port)
    try:
        rm.wait_ready()
        wait_for("t1 probes", lambda: sent(rm, "t1") >= 5)
        m = rm.metrics()
        t.check("t1 replies on loopback", m.get("reachmon_probes_replied_total", source="lo4", target="t1") >= 4)
        t.check("IPv6 loopback replies", m.get("reachmon_probes_replied_total", source="lo6", target="t6") >= 3)
        t.check("target labels are exported",
                m.has("reachmon_path_up", source="lo4", target="t1", role="survivor"))
        t.check("config load reported successful",
                m.get("reachmon_config_last_reload_successful") == 1 and
                m.get("reachmon_config_last_reload_success_timestamp_seconds") > 1.6e9)
        code, body = rm.get("/-/healthy")
        t.check("/-/healthy is 200 while probing", code == 200 and body.strip() == "OK", body)
        code, body = rm.get("/")
        t.check("status page lists paths and their state",
                code == 200 and "<td>t1</td>" in body and "ms" in body and "lo6" in body, body[:200])
        t.check("GET /-/reload is refused", rm.get("/-/reload")[0] == 405)
        t.check("unknown paths are 404", rm.get("/nope")[0] == 404)
        lint = subprocess.run(["promtool", "check", "metrics"], input=m.text, capture_output=True, text=True)
        t.check("promtool check metrics is clean",
                lint.returncode == 0 and not (lint.stdout + lint.stderr).strip(), lint.stdout + lint.stderr)

        documented = open(os.path.join(os.path.dirname(__file__), "..", "..", "docs", "metrics.md")).read()
        families = [line.split()[2] for line in m.text.splitlines() if line.startswith("# TYPE ")]
        undocumented = [f for f in families if f"`{f}`" not in documented]
        t.check(f"docs/metrics.md documents all {len(families)} exported metrics", not undocumented,
                undocumented)

        # A valid edit, picked up from the file: t2 goes, t3 comes, t1 keeps its counters.
        before = sent(rm, "t1")
        write_json(cfg, config(port, [T1, T3, T6]))
        wait_for("t3 to appear after the file edit", lambda: rm.metrics().has("reachmon_probes_sent_total", target="t3"))
        m = rm.metrics()
        t.check("removed path t2 is gone from /metrics", not m.has("reachmon_probes_sent_total", target="t2"))
        t.check(f"survivor t1 kept its counters ({before:.0f} -> {sent(rm, 't1'):.0f})", sent(rm, "t1") >= before)

        # An invalid edit is refused; the running config keeps probing.
        broken = config(port, [dict(T1, ttl=0), T3])
        broken["colour"] = "blue"
        write_json(cfg, broken)
        wait_for("the refused reload to show", lambda: rm.metrics().get("reachmon_config_last_reload_successful") == 0)
        log = rm.read_log()
        t.check("the log names every error with its JSON path",
                "$.colour: unknown key" in log and "$.targets[0].ttl: 0 is out of range" in log, log[-800:])
        before = sent(rm, "t1")
        time.sleep(0.5)
        m = rm.metrics()
        t.check("old config keeps running after a broken edit",
                sent(rm, "t1") >= before + 3 and m.has("reachmon_probes_sent_total", source="lo6", target="t6"))
        code, body = rm.post("/-/reload")
        t.check("POST /-/reload with a broken file answers 400 with the errors",
                code == 400 and "$.colour: unknown key" in body, f"{code} {body}")

        # SIGHUP reloads a fixed file.
        write_json(cfg, config(port, [T1, T2]))
        rm.proc.send_signal(signal.SIGHUP)
        wait_for("SIGHUP reload", lambda: rm.metrics().get("reachmon_config_last_reload_successful") == 1)
        wait_for("t2 back, t6 gone", lambda: rm.metrics().has("reachmon_probes_sent_total", target="t2")
                 and not rm.metrics().has("reachmon_probes_sent_total", target="t6"))
        t.check("SIGHUP applied the fixed file", True)

        code, body = rm.post("/-/reload")
        t.check("POST /-/reload with a valid file answers 200", code == 200 and "reloaded" in body, body)

        # A second instance on the same port fails to start and says why.
        second = subprocess.run([binary, "run", "--config", cfg], capture_output=True, text=True, timeout=10)
        t.check("a taken port is a start-up error naming the address",
                second.returncode == 1 and f"cannot listen on 127.0.0.1:{port}" in second.stdout + second.stderr,
                second.stdout + second.stderr)
    finally:
        start = time.monotonic()
        rc = rm.stop()
        elapsed = time.monotonic() - start
    t.check(f"SIGTERM stops within 1 s ({elapsed:.2f} s) with exit code 0", rc == 0 and elapsed < 1.0,
            rm.read_log()[-500:])

    # SIGINT (Ctrl-C in a terminal) stops it the same way.
    rm = Reachmon(binary, cfg, port)
    rm.wait_ready()
    start = time.monotonic()
    rm.proc.send_signal(signal.SIGINT)
    rc = rm.proc.wait(5)
    elapsed = time.monotonic() - start
    rm.stop()
    t.check(f"SIGINT stops within 1 s ({elapsed:.2f} s) with exit code 0", rc == 0 and elapsed < 1.0)

    # An invalid config at start-up: exit 1 and every error in the log.
    bad = os.path.join(work, "bad.json")
    write_json(bad, {"sources": [], "targets": [], "listen": "nowhere"})
    r = subprocess.run([binary, "run", "--config", bad], capture_output=True, text=True, timeout=10)
    out = r.stdout + r.stderr
    t.check("an invalid config at start-up exits 1 and lists the errors",
            r.returncode == 1 and "$.listen: invalid listen address" in out and "$.sources: empty" in out, out)
    return t.close()


if __name__ == "__main__":
    sys.exit(main())
