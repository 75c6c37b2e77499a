"""reachmon.exe as a Windows service under Wine's service control manager, end to end:
install, start, scrape /metrics from Linux, PARAMCHANGE, config edit, stop within 5 s (the SCM
status read back with QueryServiceStatus: RUNNING, then STOPPED with exit code 0), uninstall,
and the same command in console mode stopped by Ctrl-C. (Wine ignores the service account and
SourceAddress; see docs/windows.md.)

Wine's sc.exe has no "control" command, so PARAMCHANGE goes through tests/tools/service_control.

Run by ctest (wine_service; WINEPREFIX set and initialised):
    pytest test_service_wine.py --reachmon=REACHMON_EXE --service-control=EXE --workdir=DIR
"""
import os
import re
import time
import urllib.request

import pytest
from reachmon_testlib import (LISTEN_ANY_PORT, assert_promtool_clean, read_text, scrape, wait_for,
                              wait_metrics, write_json)
from wine_testlib import ConsoleRun, ServiceLog, wine, windows_path

SERVICE_KEY = r"HKLM\SYSTEM\CurrentControlSet\Services\reachmon"
EVENTLOG_KEY = r"HKLM\SYSTEM\CurrentControlSet\Services\EventLog\Application\reachmon"
SERVICE_STOPPED, SERVICE_RUNNING = 1, 4
SELF = {"name": "self", "host": "127.0.0.1"}
ADDED = {"name": "added", "host": "127.0.0.1"}


def config(targets):
    return {"listen": LISTEN_ANY_PORT, "defaults": {"interval": "200ms", "timeout": "150ms"},
            "sources": [{"name": "lo", "address": "127.0.0.1"}], "targets": targets}


@pytest.fixture(scope="module")
def cfg(workdir):
    path = os.path.join(workdir, "reachmon.json")
    write_json(path, config([SELF]))
    return path


@pytest.fixture(scope="module")
def log(wine_prefix):
    return ServiceLog(wine_prefix)


@pytest.fixture(scope="module")
def installed(wine_session, reachmon_bin, cfg):
    """`reachmon install` has run (its result is the value); uninstalled at the end."""
    wine(reachmon_bin, "uninstall")  # leftovers of an interrupted run
    try:
        yield wine(reachmon_bin, "install", "--config", windows_path(cfg))
    finally:
        wine(reachmon_bin, "uninstall")


@pytest.fixture(scope="module")
def started(installed, log):
    """`net start reachmon` has run: (its result, the port the service logged)."""
    log.mark()
    r = wine("net", "start", "reachmon")
    port = log.wait_port("the service") if r.returncode == 0 else None
    return r, port


def test_check_config_warns_that_windows_ignores_tos(wine_session, reachmon_bin, workdir):
    path = os.path.join(workdir, "tos.json")
    write_json(path, {"defaults": {"tos": 184}, "sources": [{"name": "lo", "address": "127.0.0.1"}],
                      "targets": [{"name": "t", "host": "127.0.0.1"}]})
    r = wine(reachmon_bin, "check-config", windows_path(path))
    assert r.returncode == 0, r.stdout + r.stderr  # valid: a warning, not an error
    assert "warning: $.defaults.tos: tos 184 is ignored on Windows" in r.stderr, r.stderr


def test_interfaces_lists_index_luid_guid_and_addresses(wine_session, reachmon_bin):
    r = wine(reachmon_bin, "interfaces")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "luid 0x" in r.stdout and "guid {" in r.stdout and "127.0.0.1" in r.stdout, r.stdout


def test_install_registers_the_service_with_a_quoted_path(installed):
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert '"' in installed.stdout and "run --config" in installed.stdout, installed.stdout


def test_the_service_starts_automatically_as_local_service(installed):
    q = wine("reg", "query", SERVICE_KEY)
    assert re.search(r"Start\s+REG_DWORD\s+0x2\b", q.stdout), q.stdout
    assert re.search(r"ObjectName\s+REG_SZ\s+NT AUTHORITY\\LocalService", q.stdout), q.stdout


def test_the_event_log_source_is_registered(installed):
    assert wine("reg", "query", EVENTLOG_KEY).returncode == 0


def service_status(control_exe):
    """(state, checkpoint, wait hint, Win32 exit code, service-specific exit code), as
    QueryServiceStatus reads them."""
    r = wine(control_exe, "reachmon", "status")
    assert r.returncode == 0, r.stdout + r.stderr
    return tuple(int(x) for x in r.stdout.split())


def stopped_status(control_exe):
    status = service_status(control_exe)
    return status if status[0] == SERVICE_STOPPED else None


def test_net_start_succeeds_and_the_scm_reports_running(started, control_exe):
    r, _ = started
    assert r.returncode == 0, r.stdout + r.stderr
    assert "RUNNING" in wine("sc", "query", "reachmon").stdout
    assert service_status(control_exe) == (SERVICE_RUNNING, 0, 0, 0, 0)


def test_metrics_from_linux_show_replied_probes_on_the_iphlpapi_engine(started):
    _, port = started
    m = wait_metrics("replies in /metrics", lambda: scrape(port), lambda m: m.get(
        "reachmon_probes_replied_total", target="self") >= 3, timeout=15)
    assert m.has("reachmon_build_info", platform="windows", engine="iphlpapi",
                 rtt_timestamps="user_space"), \
        [line for line in m.text.splitlines() if line.startswith("reachmon_build_info")]


def test_paramchange_alone_reloads(started, control_exe, log):
    """PARAMCHANGE without an edit reloads: the log says so and the success timestamp moves."""
    _, port = started
    before = scrape(port).get("reachmon_config_last_reload_success_timestamp_seconds")
    time.sleep(1.1)  # the timestamp is wall-clock seconds: let it be able to move
    log.mark()
    wine(control_exe, "reachmon", "paramchange")
    wait_for("a PARAMCHANGE reload", lambda: scrape(port).get(
        "reachmon_config_last_reload_success_timestamp_seconds") > before)
    assert "config reloaded (PARAMCHANGE)" in log.since(), log.since()[-500:]


def test_an_edit_plus_paramchange_brings_the_new_target_in(started, control_exe, cfg, log):
    _, port = started
    log.mark()
    write_json(cfg, config([SELF, ADDED]))
    wine(control_exe, "reachmon", "paramchange")
    m = wait_metrics("the new target to reply", lambda: scrape(port), lambda m: m.get(
        "reachmon_probes_replied_total", target="added") >= 1)
    assert m.get("reachmon_probes_replied_total", target="self") >= 3, "the old target is gone"
    # Reloaded by the PARAMCHANGE or by the file watch, whichever came first: both apply it.
    assert re.search(r"config reloaded \((PARAMCHANGE|file change)\): 2 paths", log.since()), \
        log.since()[-500:]


def test_net_stop_stops_the_service_within_5s_and_the_scm_reports_stopped(started, control_exe,
                                                                         log):
    start = time.monotonic()
    r = wine("net", "stop", "reachmon")
    assert r.returncode == 0, r.stdout + r.stderr
    # Wine's net stop returns as soon as ControlService has (STOP_PENDING): the stop ends when
    # the service reports STOPPED.
    status = wait_for("the SCM to report STOPPED", lambda: stopped_status(control_exe),
                      timeout=10)
    elapsed = time.monotonic() - start
    assert elapsed < 5, f"the stop took {elapsed:.2f} s"
    assert status == (SERVICE_STOPPED, 0, 0, 0, 0), "an error exit"
    text = read_text(log.path)
    assert "probing" in text and "stopping" in text, \
        f"the log file under ProgramData does not record the run:\n{text[-500:]}"


def test_uninstall_removes_the_service_and_the_event_log_source(installed, reachmon_bin):
    r = wine(reachmon_bin, "uninstall")
    assert r.returncode == 0, r.stdout + r.stderr
    assert wine("sc", "query", "reachmon").returncode != 0, "the service is still registered"
    assert wine("reg", "query", EVENTLOG_KEY).returncode != 0, "the Event Log source remains"


def test_console_mode_probes_and_ctrl_c_stops_it(wine_session, reachmon_bin, cfg, workdir):
    """Not started by the SCM, the same command runs in the console and stops on Ctrl-C."""
    with ConsoleRun(reachmon_bin, cfg, os.path.join(workdir, "console.log")) as console:
        port = console.wait_port("console mode to log its port", timeout=30)
        wait_for("console mode to serve replies", lambda: scrape(port).get(
            "reachmon_probes_replied_total", target="self") >= 1, timeout=30)
        rc, elapsed = console.ctrl_c(10)
        text = console.text()
        assert rc == 0, f"exit code {rc} after {elapsed:.2f} s:\n{text[-500:]}"
        assert "stopping" in text, text[-500:]


def test_console_mode_exports_the_windows_process_metrics(wine_session, reachmon_bin, cfg,
                                                          workdir):
    """process_* of the Windows implementation on a real scrape: the start time (GetProcessTimes)
    between the launch and the first answer, CPU time that never goes back, the working set, the
    fixed handle limit of 2^24. Wine counts neither handles nor private bytes (it reports 0):
    those two are left out here (docs/metrics.md). /-/ready answers 200, and HEAD the same
    headers without the body."""
    launched = time.time()
    with ConsoleRun(reachmon_bin, cfg, os.path.join(workdir, "console-process.log")) as console:
        port = console.wait_port("console mode to log its port", timeout=30)
        first = wait_for("a scrape", lambda: scrape(port), timeout=30)
        answered = time.time()
        start = first.get("process_start_time_seconds")
        assert launched - 1 <= start <= answered, (launched, start, answered)
        assert first.get("process_max_fds") == 16777216
        assert first.get("process_resident_memory_bytes") > 1 << 20
        assert not first.has("process_open_fds"), "Wine reports no handle count"
        assert not first.has("process_virtual_memory_bytes"), "Wine reports no private bytes"
        assert_promtool_clean(first.text)
        second = scrape(port)
        assert second.get("process_cpu_seconds_total") >= first.get("process_cpu_seconds_total")
        assert second.get("process_start_time_seconds") == start

        url = f"http://127.0.0.1:{port}/-/ready"
        with urllib.request.urlopen(url, timeout=5) as r:
            assert (r.status, r.read()) == (200, b"ready\n")
            get_headers = dict(r.headers)
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=5) as r:
            assert r.status == 200 and r.read() == b""
            assert r.headers["Content-Length"] == get_headers["Content-Length"] == "6"
            assert r.headers["Content-Type"] == get_headers["Content-Type"]
        rc, _ = console.ctrl_c(10)
        assert rc == 0, console.text()[-500:]
