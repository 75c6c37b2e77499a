"""The MSI under Wine, as an operator uses it: msiexec /i installs the files and starts the
service, which creates its config from the shipped example and answers /metrics from Linux on
the documented default port with replied loopback probes; an edited config survives a major
upgrade to a newer MSI, and the upgraded service runs with it; msiexec /x stops and removes the
service and the program files and leaves the config in ProgramData.

Run by ctest (wine_msi; WINEPREFIX set and initialised):
    pytest test_msi_wine.py --msi=MSI --wxs=WXS --msi-stage=STAGE_DIR --workdir=DIR
The newer MSI is built from the same staged files with wixl and the next patch version.
"""
import json
import os
import re
import socket
import subprocess

import pytest
from reachmon_testlib import (LISTEN_ANY_PORT, read_json, read_text, scrape, wait_for,
                              wait_metrics)
from wine_testlib import ServiceLog, program_data, wine

UNINSTALL_KEY = r"HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall"
# The shipped example config listens here (README: "http://127.0.0.1:9643/metrics answers at
# once"), so this test, unlike the others, uses a fixed port: the product's default.
DEFAULT_PORT = 9643


def products():
    out = wine("reg", "query", UNINSTALL_KEY).stdout
    return [line for line in out.splitlines() if re.search(r"\\\{[0-9A-F-]+\}$", line.strip())]


def listening(port):
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def msi(path_option):
    return path_option("msi")


@pytest.fixture(scope="module")
def newer_msi(msi, path_option, workdir):
    """The same MSI source built with the next patch version: (version, path)."""
    version = re.search(r"reachmon-(\d+)\.(\d+)\.(\d+)-x64\.msi$", msi)
    newer_version = f"{version[1]}.{version[2]}.{int(version[3]) + 1}"
    newer = os.path.join(workdir, f"reachmon-{newer_version}-x64.msi")
    r = subprocess.run(["wixl", "-a", "x64", "-D", f"Version={newer_version}",
                        "-D", "ExePath=reachmon.exe", "-D", "ConfigPath=reachmon.example.json",
                        "-D", "DocDir=.", "-o", newer, path_option("wxs")],
                       cwd=path_option("msi-stage"), capture_output=True, text=True)
    assert r.returncode == 0, f"wixl cannot build the newer MSI ({newer_version}):\n{r.stderr}"
    return newer_version, newer


@pytest.fixture(scope="module")
def dirs(wine_prefix):
    return {"program": os.path.join(wine_prefix, "drive_c", "Program Files", "reachmon"),
            "data": program_data(wine_prefix)}


@pytest.fixture(scope="module")
def config_path(dirs):
    return os.path.join(dirs["data"], "reachmon.json")


@pytest.fixture(scope="module")
def log(wine_prefix):
    return ServiceLog(wine_prefix)


@pytest.fixture(scope="module")
def installed(wine_session, msi, newer_msi, dirs, log):
    """`msiexec /i` of the MSI on a clean prefix (its result is the value); every version is
    uninstalled at the end."""
    wine("msiexec", "/x", msi, "/qn")  # leftovers of an interrupted run
    subprocess.run(["rm", "-rf", dirs["data"]])
    if listening(DEFAULT_PORT):
        pytest.fail(f"something on this host already listens on 127.0.0.1:{DEFAULT_PORT}, where "
                    "the MSI's shipped config listens: stop it first", pytrace=False)
    log.mark()
    try:
        yield wine("msiexec", "/i", msi, "/qn", timeout=120)
    finally:
        wine("msiexec", "/x", newer_msi[1], "/qn", timeout=120)
        wine("msiexec", "/x", msi, "/qn", timeout=120)


def test_msiexec_installs_quietly(installed):
    assert installed.returncode == 0, installed.stdout + installed.stderr


def test_program_files_are_installed(installed, dirs):
    files = ("reachmon.exe", "reachmon.example.json", "README.md")
    missing = [f for f in files if not os.path.exists(os.path.join(dirs["program"], f))]
    assert not missing, f"not installed: {missing}"


def test_the_service_is_running(installed):
    assert "RUNNING" in wine("sc", "query", "reachmon").stdout


def test_the_config_is_created_in_programdata_from_the_example(installed, dirs, config_path):
    wait_for("the service to create its config", lambda: os.path.exists(config_path))
    cfg = read_json(config_path)
    assert cfg["targets"][0]["name"] == "localhost-v4", cfg
    assert cfg == read_json(os.path.join(dirs["program"], "reachmon.example.json"))


def test_metrics_answer_from_linux_on_the_default_port(installed, log):
    """The shipped config serves http://127.0.0.1:9643/metrics with replied loopback probes."""
    port = log.wait_port("the installed service")
    assert port == DEFAULT_PORT, f"the shipped config listens on {port}"
    m = wait_metrics("replies on the default port", lambda: scrape(port), lambda m: m.get(
        "reachmon_probes_replied_total", target="localhost-v4") >= 2, timeout=20)
    assert m.has("reachmon_build_info", platform="windows"), "another program answers on 9643"


@pytest.fixture(scope="module")
def edited(installed, config_path):
    """The operator's edit: one more target, and any free port (takes effect at the restart)."""
    cfg = read_json(config_path)
    cfg["targets"].append({"name": "operator-edit", "host": "127.0.0.1"})
    cfg["listen"] = LISTEN_ANY_PORT
    with open(config_path, "w") as f:
        json.dump(cfg, f, indent=2)
    return read_text(config_path)


@pytest.fixture(scope="module")
def upgraded(edited, newer_msi, log):
    """The running service picked the edit up; then the newer MSI was installed over it."""
    wait_for("the edit to be probed", lambda: scrape(DEFAULT_PORT).has(
        "reachmon_probes_sent_total", target="operator-edit"), timeout=20)
    log.mark()
    return wine("msiexec", "/i", newer_msi[1], "/qn", timeout=120)


def test_the_newer_msi_upgrades_in_place_keeping_the_edited_config(upgraded, edited, config_path):
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    assert read_text(config_path) == edited, "the upgrade replaced the edited config"
    assert len(products()) == 1, products()


def test_the_upgraded_service_runs_with_the_operators_config(upgraded, log):
    """It listens where the edited config says (any free port, logged) and probes its target."""
    port = log.wait_port("the upgraded service")
    m = wait_metrics("the upgraded service to probe the edited config", lambda: scrape(port),
                     lambda m: m.get("reachmon_probes_replied_total", target="operator-edit") >= 1,
                     timeout=20)
    assert m.has("reachmon_build_info", platform="windows")
    assert not listening(DEFAULT_PORT), "the old service still listens on the default port"


def test_msiexec_x_removes_service_and_program_files_and_keeps_the_config(
        upgraded, newer_msi, dirs, edited, config_path, log):
    port = log.wait_port("the upgraded service")
    r = wine("msiexec", "/x", newer_msi[1], "/qn", timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert wine("sc", "query", "reachmon").returncode != 0, "the service is still registered"
    assert not os.path.exists(dirs["program"]), os.listdir(dirs["program"])
    assert read_text(config_path) == edited, "the config did not stay in ProgramData"
    wait_for("nothing to listen any more", lambda: not listening(port), timeout=10)
