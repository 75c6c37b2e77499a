"""Hostile config files (issue 10): a number beyond a double's range such as 1e999 once made the
JSON library throw an exception the loader did not catch, so `reachmon check-config` aborted and
any reload (file edit, SIGHUP, POST /-/reload) killed the running service. Now it is a config
error naming its JSON path: check-config exits 1, and a running reachmon refuses the edit, keeps
its old config and says so in reachmon_config_last_reload_successful.

Run by ctest (hostile_config): pytest test_hostile_config.py --reachmon=BINARY --workdir=DIR
"""
import json
import os
import signal
import subprocess

import pytest
from reachmon_testlib import LISTEN_ANY_PORT, wait_for, write_json

HERE = os.path.dirname(os.path.abspath(__file__))
INVALID_DIR = os.path.join(HERE, "..", "config", "invalid")

T1 = {"name": "t1", "host": "127.0.0.1"}
T2 = {"name": "t2", "host": "127.0.0.2"}
T3 = {"name": "t3", "host": "127.0.0.3"}
BIG = "__BIG__"  # replaced by a bare 1e999, which Python's json module cannot write


def config(targets):
    return {
        "listen": LISTEN_ANY_PORT,
        "web": {"enable_reload": True},
        "defaults": {"interval": "100ms", "timeout": "80ms"},
        "sources": [{"name": "lo4", "address": "127.0.0.1"}],
        "targets": targets,
    }


def write_text(path, text):
    """Replaces the file in one step: the file watch never sees half an edit."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def with_big_number(cfg):
    return json.dumps(cfg, indent=2).replace(f'"{BIG}"', "1e999")


def run(*cmd, timeout=20):
    return subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout)


# --- check-config ---------------------------------------------------------------------------------

@pytest.mark.parametrize("where, cfg", [
    ("$.defaults.ttl", dict(config([T1]), defaults={"ttl": BIG})),
    ("$.targets[0].ttl", config([dict(T1, ttl=BIG)])),
    ("$.notes", dict(config([T1]), notes=BIG)),  # an unknown key's value: read before any check
])
def test_check_config_reports_1e999_at_its_path_and_exits_1(reachmon_bin, workdir, where, cfg):
    path = os.path.join(workdir, "check_big.json")
    write_text(path, with_big_number(cfg))
    r = run(reachmon_bin, "check-config", path)
    # 1, not 134 or -6 (SIGABRT from an uncaught exception), nor any other signal.
    assert r.returncode == 1, f"exit code {r.returncode}:\n{r.stderr}"
    assert f"{path}: {where}: number 1e999 at line " in r.stderr, r.stderr
    assert "is out of range" in r.stderr and "terminate called" not in r.stderr, r.stderr


def test_check_config_never_echoes_raw_control_characters(reachmon_bin):
    """Names with ESC, BEL, DEL and C1 characters are refused and shown escaped."""
    path = os.path.join(INVALID_DIR, "control_in_names.json")
    r = run(reachmon_bin, "check-config", path)
    assert r.returncode == 1, r.stderr
    assert '$.targets[0].name: invalid name "t\\u001b[31mred": control character \\u001b' \
        in r.stderr, r.stderr
    raw = [c for c in r.stderr if (ord(c) < 0x20 and c != "\n") or 0x7f <= ord(c) <= 0x9f]
    assert not raw, f"raw control characters in the output: {raw!r}"


# --- a running reachmon and each reload path ------------------------------------------------------

def sent(rm, target):
    return rm.metrics().get("reachmon_probes_sent_total", source="lo4", target=target)


def start_with_t1_t2(start_reachmon, workdir, name):
    path = os.path.join(workdir, f"{name}.json")
    write_json(path, config([T1, T2]))
    rm = start_reachmon(path)
    wait_for("t1 and t2 probes", lambda: sent(rm, "t1") >= 2 and sent(rm, "t2") >= 2)
    assert rm.metrics().get("reachmon_config_last_reload_successful") == 1
    return rm, path


def assert_refused_and_still_running(rm, trigger):
    """The edit (t2 -> t3, with 1e999 at $.targets[1].ttl) was refused through `trigger`; the
    process still serves /metrics with the old config and keeps probing."""
    expected = f"reload ({trigger}) refused, keeping the running config"
    wait_for(f"the refused reload ({trigger}) in the log",
             lambda: rm.proc.poll() is not None or expected in rm.read_log())
    assert rm.proc.poll() is None, f"reachmon exited with {rm.proc.returncode}:\n{rm.read_log()}"
    log = rm.read_log()
    line = next(line for line in log.splitlines() if expected in line)
    assert "$.targets[1].ttl: number 1e999 at line" in line, line
    assert "terminate called" not in log, log[-1000:]
    m = rm.metrics()
    assert m.get("reachmon_config_last_reload_successful") == 0, m.text
    assert m.has("reachmon_probes_sent_total", target="t2"), "the old config's t2 is gone"
    assert not m.has("reachmon_probes_sent_total", target="t3"), "the refused edit's t3 is there"
    before = sent(rm, "t1")
    wait_for("t1 to keep probing", lambda: sent(rm, "t1") >= before + 2)
    assert rm.get("/-/healthy")[0] == 200


BAD_EDIT = with_big_number(config([T1, dict(T3, ttl=BIG)]))


def test_a_file_edit_with_1e999_is_refused_and_the_service_stays_up(start_reachmon, workdir):
    rm, path = start_with_t1_t2(start_reachmon, workdir, "watch")
    write_text(path, BAD_EDIT)
    assert_refused_and_still_running(rm, "file change")


def test_sighup_with_1e999_is_refused_and_the_service_stays_up(start_reachmon, workdir):
    rm, path = start_with_t1_t2(start_reachmon, workdir, "sighup")
    write_text(path, BAD_EDIT)
    rm.proc.send_signal(signal.SIGHUP)  # the file watch may reload too: both must refuse
    assert_refused_and_still_running(rm, "SIGHUP")


def test_post_reload_with_1e999_answers_400_and_the_service_stays_up(start_reachmon, workdir):
    rm, path = start_with_t1_t2(start_reachmon, workdir, "post")
    write_text(path, BAD_EDIT)
    code, body = rm.post("/-/reload")
    assert code == 400, f"POST /-/reload: {code} {body}"
    assert "$.targets[1].ttl: number 1e999 at line" in body, body
    assert_refused_and_still_running(rm, "POST /-/reload")
