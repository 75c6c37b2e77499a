"""Who may write reachmon's files, and the Event Log's text, under Wine.

- The service repairs %ProgramData%\\reachmon and its logs\\ folder at start: folders that
  everyone may write (as anyone may pre-create them) lose that.
- The service refuses a config that a principal other than SYSTEM, Administrators or
  TrustedInstaller can write: at start (it stops with an error exit code and says who can write
  the file), and at a reload (the running config stays); a console run only warns.
- Event Log entries carry the log's text as UTF-16: a non-ASCII name arrives intact.

Wine keeps no ACLs: it maps a DACL to Unix mode bits and reads back only what those express (the
owner, SYSTEM, Everyone), so the tests grant or remove write access for Everyone, and the exact
ACEs reachmon sets are asserted by win_host_test. Wine cannot read the Event Log back
(ReadEventLogW is a stub); its ReportEventW prints each string on the "eventlog" debug channel,
which is what the Event Log test reads. Wine does not store SERVICE_CONFIG_FAILURE_ACTIONS_FLAG.

Run by ctest (wine_acl; WINEPREFIX set and initialised):
    pytest test_acl_wine.py --reachmon=REACHMON_EXE --service-control=EXE --workdir=DIR
"""
import os
import re
import subprocess
import tempfile

import pytest
from reachmon_testlib import LISTEN_ANY_PORT, scrape, wait_for, wait_metrics, write_json
from wine_testlib import ConsoleRun, ServiceLog, program_data, wine, windows_path

# What the tests set with SetNamedSecurityInfoW (service_control set-acl).
EVERYONE_MAY_WRITE = "D:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;0x1201bf;;;WD)"
ADMINISTRATORS_ONLY = "D:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;0x1200a9;;;BU)"
# Rights that change a file: write data, append data, WRITE_DAC, WRITE_OWNER, GENERIC_WRITE/ALL.
WRITE_RIGHTS = 0x2 | 0x4 | 0x40000 | 0x80000 | 0x40000000 | 0x10000000
SDDL_RIGHTS = {"FA": 0x1F01FF, "FR": 0x120089, "FW": 0x120116, "FX": 0x1200A0,
               "GA": 0x10000000, "GW": 0x40000000, "GR": 0x80000000, "GX": 0x20000000}
SERVICE_STOPPED = 1
ERROR_SERVICE_SPECIFIC_ERROR = 1066
SELF = {"name": "self", "host": "127.0.0.1"}
ADDED = {"name": "added", "host": "127.0.0.1"}
NON_ASCII_NAME = "Ethernet-Verbindung 2 \u2013 \u00fc"


def config(targets, sources=None):
    return {"listen": LISTEN_ANY_PORT, "defaults": {"interval": "200ms", "timeout": "150ms"},
            "sources": sources or [{"name": "lo", "address": "127.0.0.1"}], "targets": targets}


def acl(control_exe, path):
    """(owner SID, [(type, flags, rights as int, SID)]) of `path`, as GetNamedSecurityInfoW
    reads it back."""
    r = wine(control_exe, "acl", path)
    assert r.returncode == 0, r.stdout + r.stderr
    sddl = r.stdout.strip()
    owner = re.match(r"O:([^:]+?)(?:G:|D:)", sddl)[1]
    dacl = sddl[sddl.index("D:"):]
    aces = []
    for ace in re.findall(r"\(([^)]*)\)", dacl):
        kind, flags, rights, _, _, sid = ace.split(";")
        aces.append((kind, flags, SDDL_RIGHTS.get(rights) or int(rights, 16), sid))
    return owner, aces


def writers(aces):
    return [sid for kind, _, rights, sid in aces if kind == "A" and rights & WRITE_RIGHTS]


def set_acl(control_exe, path, sddl):
    r = wine(control_exe, "set-acl", path, sddl)
    assert r.returncode == 0, r.stdout + r.stderr


def service_status(control_exe):
    """(state, checkpoint, wait hint, Win32 exit code, service-specific exit code)."""
    r = wine(control_exe, "reachmon", "status")
    assert r.returncode == 0, r.stdout + r.stderr
    return tuple(int(x) for x in r.stdout.split())


def wine_debug_strings(text, channel_line):
    """The strings Wine printed as debugstr_w (L"...") on lines containing `channel_line`,
    decoded: \\\\, \\", \\n, \\r, \\t, and \\XXXX for every other character outside ASCII."""
    out = []
    for m in re.finditer(re.escape(channel_line) + r' L"((?:[^"\\]|\\.)*)"(\.\.\.)?', text):
        assert not m[2], f"Wine truncated the string: {m[0]}"
        s, i, raw = [], 0, m[1]
        while i < len(raw):
            if raw[i] != "\\":
                s.append(raw[i])
                i += 1
            elif raw[i + 1] in 'nrt"\\':
                s.append({"n": "\n", "r": "\r", "t": "\t"}.get(raw[i + 1], raw[i + 1]))
                i += 2
            else:
                s.append(chr(int(raw[i + 1:i + 5], 16)))
                i += 5
        out.append("".join(s))
    return out


@pytest.fixture(scope="module")
def cfg(workdir):
    path = os.path.join(workdir, "reachmon.json")
    write_json(path, config([SELF]))
    return path


@pytest.fixture(scope="module")
def log(wine_prefix):
    return ServiceLog(wine_prefix)


@pytest.fixture(scope="module")
def data_dirs(wine_prefix):
    data = program_data(wine_prefix)
    return {"C:\\ProgramData\\reachmon": data,
            "C:\\ProgramData\\reachmon\\logs": os.path.join(data, "logs")}


@pytest.fixture(scope="module")
def installed(wine_session, reachmon_bin, cfg):
    """`reachmon install --config CFG` has run (its result is the value); uninstalled at the end."""
    wine(reachmon_bin, "uninstall")  # leftovers of an interrupted run
    try:
        yield wine(reachmon_bin, "install", "--config", windows_path(cfg))
    finally:
        wine("net", "stop", "reachmon")
        wine(reachmon_bin, "uninstall")


def start_service(log):
    log.mark()
    r = wine("net", "start", "reachmon")
    assert r.returncode == 0, r.stdout + r.stderr + log.since()[-1000:]
    return log.wait_port("the service")


def stop_service(control_exe):
    wine("net", "stop", "reachmon")
    wait_for("the service to stop",
             lambda: service_status(control_exe)[0] == SERVICE_STOPPED, timeout=15)


def test_install_sets_failure_actions_for_error_exits(installed, control_exe):
    assert installed.returncode == 0, installed.stdout + installed.stderr
    r = wine(control_exe, "reachmon", "failure-flag")
    if r.returncode != 0 and "failed: 124" in r.stderr:  # ERROR_INVALID_LEVEL
        pytest.skip("Wine does not implement SERVICE_CONFIG_FAILURE_ACTIONS_FLAG; win_host_test "
                    "proves what `reachmon install` asks for")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip() == "1"


def test_the_service_repairs_data_folders_that_everyone_may_write(installed, control_exe,
                                                                  data_dirs, log):
    """As if anyone had pre-created them: world-writable folders lose write access for everyone
    but their owner, SYSTEM and Administrators when the service starts."""
    for path in data_dirs.values():
        os.makedirs(path, exist_ok=True)
        os.chmod(path, 0o777)
    for name in data_dirs:
        assert "WD" in writers(acl(control_exe, name)[1]), "Everyone cannot write: no test"
    start_service(log)
    try:
        for name in data_dirs:
            owner, aces = acl(control_exe, name)
            # What Wine can show of the protected DACL: inherited by files and folders below,
            # read & execute for everyone else (the exact ACEs: win_host_test).
            assert sorted(aces) == sorted([("A", "OICI", 0x1F01FF, "SY"),
                                           ("A", "OICI", 0x1F01FF, owner),
                                           ("A", "OICI", 0x1200A9, "WD")]), (name, aces)
            assert f"set the protected permissions of {name}\n" in log.since()
    finally:
        stop_service(control_exe)


def test_the_service_refuses_to_start_with_a_config_everyone_may_write(installed, control_exe,
                                                                      cfg, log):
    set_acl(control_exe, windows_path(cfg), EVERYONE_MAY_WRITE)
    assert "WD" in writers(acl(control_exe, windows_path(cfg))[1])
    log.mark()
    try:
        wine("net", "start", "reachmon")  # its result depends on how soon the service stops
        wait_for("the service to stop",
                 lambda: service_status(control_exe)[0] == SERVICE_STOPPED, timeout=30)
        _, _, _, exit_code, specific = service_status(control_exe)
        assert (exit_code, specific) == (ERROR_SERVICE_SPECIFIC_ERROR, 1)
        text = wait_for("the refusal in the log", lambda: re.search(
            r"critical refusing the config: (\S+) can be changed by \S*Everyone \(write, append.*",
            log.since()))
        assert text[1] == windows_path(cfg), text[0]
        assert "only SYSTEM, Administrators and TrustedInstaller may change the service's " \
            "config" in text[0]
        assert "metrics on http" not in log.since(), "it served with the refused config"
    finally:
        stop_service(control_exe)


def test_a_reload_of_a_config_that_became_writable_by_everyone_is_refused(
        installed, control_exe, cfg, log):
    set_acl(control_exe, windows_path(cfg), ADMINISTRATORS_ONLY)
    assert "WD" not in writers(acl(control_exe, windows_path(cfg))[1])
    port = start_service(log)
    try:
        wait_metrics("replies", lambda: scrape(port), lambda m: m.get(
            "reachmon_probes_replied_total", target="self") >= 1, timeout=15)
        # An edit saved with write access for everyone (mode set before the file appears, so
        # the file watch never sees the edit with other permissions).
        tmp = cfg + ".tmp"
        write_json(tmp, config([SELF, ADDED]))
        os.chmod(tmp, 0o666)
        log.mark()
        os.replace(tmp, cfg)
        refused = wait_for("the reload to be refused", lambda: re.search(
            r"error reload \(file change\) refused, keeping the running config: refusing the "
            r"config: \S+ can be changed by \S*Everyone \(write, append.*", log.since()))
        m = wait_metrics("the failed reload in /metrics", lambda: scrape(port),
                         lambda m: m.get("reachmon_config_last_reload_successful") == 0)
        assert not m.has("reachmon_probes_sent_total", target="added"), refused[0]
        assert m.get("reachmon_probes_replied_total", target="self") >= 1

        # Permissions repaired: PARAMCHANGE brings the edit in.
        set_acl(control_exe, windows_path(cfg), ADMINISTRATORS_ONLY)
        log.mark()
        wine(control_exe, "reachmon", "paramchange")
        wait_metrics("the edit to apply", lambda: scrape(port), lambda m: m.get(
            "reachmon_probes_replied_total", target="added") >= 1, timeout=15)
        assert "config reloaded (PARAMCHANGE): 2 paths" in log.since(), log.since()[-500:]
    finally:
        stop_service(control_exe)
    assert service_status(control_exe)[3:] == (0, 0), "the service stopped with an error"


def test_a_console_run_warns_about_a_config_everyone_may_write_and_uses_it(
        wine_session, reachmon_bin, workdir):
    path = os.path.join(workdir, "console-open.json")
    write_json(path, config([SELF]))
    os.chmod(path, 0o666)
    with ConsoleRun(reachmon_bin, path, os.path.join(workdir, "console-open.log")) as console:
        port = console.wait_port("the console run to serve", timeout=30)
        wait_for("replies", lambda: scrape(port).get(
            "reachmon_probes_replied_total", target="self") >= 1, timeout=30)
        text = console.text()
        assert re.search(r"warning .*console-open\.json can be changed by \S*Everyone \(write, "
                         r"append.*; the service would refuse it", text), text[-1000:]
        rc, _ = console.ctrl_c(15)
        assert rc == 0, console.text()[-500:]


def test_check_config_warns_that_the_service_would_refuse_a_config_everyone_may_write(
        wine_session, reachmon_bin, workdir):
    """check-config says what only the service would refuse; a protected file gets no warning."""
    path = os.path.join(workdir, "check-open.json")
    write_json(path, config([SELF]))
    os.chmod(path, 0o666)
    r = wine(reachmon_bin, "check-config", windows_path(path))
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r"check-open\.json: warning: .*can be changed by \S*Everyone .*; the "
                     r"service would refuse it", r.stderr), r.stderr
    os.chmod(path, 0o644)
    r = wine(reachmon_bin, "check-config", windows_path(path))
    assert r.returncode == 0 and "would refuse" not in r.stderr, r.stdout + r.stderr


def test_the_event_log_gets_non_ascii_text_intact(wine_session, reachmon_bin, workdir):
    """A config error naming a localized interface name: the Event Log (Wine: its debug channel)
    receives exactly the text that was logged, as UTF-16, with the error event type."""
    path = os.path.join(workdir, "non-ascii.json")
    write_json(path, config([SELF], [{"name": NON_ASCII_NAME, "address": "127.0.0.1"}]))
    env = dict(os.environ, WINEDEBUG="-all,+eventlog")
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as out:
        r = subprocess.run(["wine", reachmon_bin, "run", "--config", windows_path(path)],
                           stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=env, timeout=60)
        out.seek(0)
        text = out.read()
    assert r.returncode == 1, text[-1000:]
    expected = (f'{windows_path(path)}: $.sources[0].name: invalid name "{NON_ASCII_NAME}": use 1 '
                "to 64 letters, digits, '-', '_' or '.'")
    assert expected in text, text[-1000:]  # the log's own (UTF-8) line, for comparison
    errors = wine_debug_strings(text, ":err:eventlog:ReportEventW")
    assert expected in errors, errors
    assert f"invalid config {windows_path(path)} (1 errors)" in errors, errors
