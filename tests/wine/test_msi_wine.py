"""The MSI under Wine, as an operator uses it: msiexec /i installs the files, the service with a
quoted command line, %ProgramData%\\reachmon and its logs\\ folder with protected ACLs and the
config from the shipped example, and starts the service, which answers /metrics from Linux on
the documented default port with replied loopback probes. The same version installed again
replaces the installed product in place; an edited config survives a major upgrade to a newer
MSI, and the upgraded service runs with it; msiexec /x stops and removes the service and the
program files and leaves the config in ProgramData. Finally, an install over a kept config that
is invalid succeeds: the service is installed but stopped, and the MSI log and the service's
log say why.

Run by ctest (wine_msi; WINEPREFIX set and initialised):
    pytest test_msi_wine.py --msi=MSI --wxs=WXS --msi-stage=STAGE_DIR --workdir=DIR
The other MSIs (same version rebuilt, next patch version) are built with wixl from the staged
files and the variables the build used (STAGE_DIR/defines.txt).
"""
import json
import os
import re
import socket
import subprocess

import pytest
from reachmon_testlib import (LISTEN_ANY_PORT, read_json, read_text, scrape, wait_for,
                              wait_metrics)
from wine_testlib import ServiceLog, program_data, wine, windows_path

UNINSTALL_KEY = r"HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall"
SERVICE_KEY = r"HKLM\System\CurrentControlSet\Services\reachmon"
QUOTED_COMMAND = '"C:\\Program Files\\reachmon\\reachmon.exe" run'
# The shipped example config listens here (README: "http://127.0.0.1:9643/metrics answers at
# once"), so this test, unlike the others, uses a fixed port: the product's default.
DEFAULT_PORT = 9643
# ProtectFolder's SDDL (reachmon.wxs): owner Administrators; protected DACL: SYSTEM and
# Administrators full control, Users read and execute, inherited by subfolders and files (OICI);
# on logs\ also LocalService modify.
DATA_SDDL = "O:BAG:SYD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)"
LOG_SDDL = DATA_SDDL + "(A;OICI;0x1301bf;;;LS)"


def products():
    out = wine("reg", "query", UNINSTALL_KEY).stdout
    return [line.strip() for line in out.splitlines()
            if re.search(r"\\\{[0-9A-F-]+\}$", line.strip())]


def msiexec(*args, log_path=None):
    """msiexec ... /qn [/l*v LOG]: the CompletedProcess."""
    log = ["/l*v", windows_path(log_path)] if log_path else []
    return wine("msiexec", *args, "/qn", *log, timeout=180)


def msi_log(path):
    """The MSI log (Wine writes it in UTF-16 or in the ANSI code page)."""
    with open(path, "rb") as f:
        raw = f.read()
    text = raw.decode("utf-16") if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else raw.decode(
        "utf-8", errors="replace")
    return text.replace("\r\n", "\n")


def our_lines(text):
    """What reachmon's custom actions wrote to an MSI log: the part worth showing on a failure."""
    return "\n".join(line for line in text.splitlines() if line.startswith("reachmon: "))


def service_state():
    r = wine("sc", "query", "reachmon")
    m = re.search(r"STATE\s*:\s*\w+\s+(\w+)", r.stdout)
    return m[1] if r.returncode == 0 and m else None


def image_path():
    out = wine("reg", "query", SERVICE_KEY, "/v", "ImagePath").stdout
    m = re.search(r"ImagePath\s+REG_\w+\s+(.*\S)", out)
    return m[1] if m else None


def listening(port):
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def msi(path_option):
    return path_option("msi")


@pytest.fixture(scope="module")
def build_msi(path_option, workdir):
    """build_msi(version, name) -> the path of reachmon.wxs built by wixl at `version` with the
    staged files and the build's other variables, as WORKDIR/name."""
    stage = path_option("msi-stage")
    with open(os.path.join(stage, "defines.txt")) as f:
        defines = [line.strip() for line in f if line.strip()]

    def build(version, name):
        out = os.path.join(workdir, name)
        args = ["wixl", "-a", "x64", "-o", out]
        for define in defines:
            args += ["-D", f"Version={version}" if define.startswith("Version=") else define]
        r = subprocess.run(args + [path_option("wxs")], cwd=stage, capture_output=True, text=True)
        assert r.returncode == 0, f"wixl cannot build {name}:\n{r.stderr}"
        return out
    return build


@pytest.fixture(scope="module")
def version(msi):
    return re.search(r"reachmon-(\d+\.\d+\.\d+)-x64\.msi$", msi)[1]


@pytest.fixture(scope="module")
def newer_msi(version, build_msi):
    """The same MSI source built with the next patch version: (version, path)."""
    major, minor, patch = version.split(".")
    newer_version = f"{major}.{minor}.{int(patch) + 1}"
    return newer_version, build_msi(newer_version, f"reachmon-{newer_version}-x64.msi")


@pytest.fixture(scope="module")
def rebuilt_msi(version, build_msi):
    """The same version built again: another ProductCode, the same UpgradeCode and version."""
    return build_msi(version, f"reachmon-{version}-rebuilt-x64.msi")


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
def install_log(workdir):
    return os.path.join(workdir, "install.log")


@pytest.fixture(scope="module")
def installed(wine_session, msi, newer_msi, rebuilt_msi, dirs, log, install_log):
    """`msiexec /i` of the MSI on a clean prefix (its result is the value); every version is
    uninstalled at the end."""
    for leftover in (newer_msi[1], rebuilt_msi, msi):  # of an interrupted run
        msiexec("/x", leftover)
    subprocess.run(["rm", "-rf", dirs["data"]])
    if listening(DEFAULT_PORT):
        pytest.fail(f"something on this host already listens on 127.0.0.1:{DEFAULT_PORT}, where "
                    "the MSI's shipped config listens: stop it first", pytrace=False)
    log.mark()
    try:
        yield msiexec("/i", msi, log_path=install_log)
    finally:
        for product in (newer_msi[1], rebuilt_msi, msi):
            msiexec("/x", product)


def test_msiexec_installs_quietly(installed):
    assert installed.returncode == 0, installed.stdout + installed.stderr


def test_program_files_are_installed(installed, dirs):
    files = ("reachmon.exe", "reachmon.example.json", "README.md")
    missing = [f for f in files if not os.path.exists(os.path.join(dirs["program"], f))]
    assert not missing, f"not installed: {missing}"
    assert not os.path.exists(os.path.join(dirs["program"], "reachmon_msi_actions.dll"))


def test_the_service_is_running(installed):
    wait_for("the service to run", lambda: service_state() == "RUNNING", timeout=30)


def test_the_service_command_line_is_quoted(installed, install_log):
    """What the SCM stored (Wine's services.exe writes its configuration to the registry): the
    path with its space quoted, then the argument."""
    assert image_path() == QUOTED_COMMAND
    text = msi_log(install_log)
    assert f"service reachmon command line: {QUOTED_COMMAND}" in text, our_lines(text)


def test_programdata_and_logs_are_created_with_protected_acls(installed, dirs, install_log):
    """The folders exist, and ProtectFolder gave each its owner and protected DACL (the MSI log
    says so only once SetNamedSecurityInfo succeeded). Wine keeps no ACLs (it derives one from
    the Unix mode, which the log shows as "read back"): the CI workflow on Windows checks the
    ACL that Windows stored."""
    assert os.path.isdir(os.path.join(dirs["data"], "logs"))
    text = msi_log(install_log)
    acls = dict(re.findall(r"reachmon: protected (\S+): (\S+) \(read back: ", text))
    assert acls.get("C:\\ProgramData\\reachmon") == DATA_SDDL, our_lines(text)
    assert acls.get("C:\\ProgramData\\reachmon\\logs") == LOG_SDDL, our_lines(text)


def test_the_config_is_created_in_programdata_from_the_example(installed, dirs, config_path,
                                                                 install_log):
    assert os.path.exists(config_path), "the MSI did not create the config"
    cfg = read_json(config_path)
    assert cfg["targets"][0]["name"] == "localhost-v4", cfg
    assert cfg == read_json(os.path.join(dirs["program"], "reachmon.example.json"))
    text = msi_log(install_log)
    assert "reachmon: created C:\\ProgramData\\reachmon\\reachmon.json" in text, our_lines(text)


def test_metrics_answer_from_linux_on_the_default_port(installed, log, install_log):
    """The shipped config serves http://127.0.0.1:9643/metrics with replied loopback probes."""
    port = log.wait_port("the installed service")
    assert port == DEFAULT_PORT, f"the shipped config listens on {port}"
    m = wait_metrics("replies on the default port", lambda: scrape(port), lambda m: m.get(
        "reachmon_probes_replied_total", target="localhost-v4") >= 2, timeout=20)
    assert m.has("reachmon_build_info", platform="windows"), "another program answers on 9643"
    text = msi_log(install_log)
    assert "reachmon: the service reachmon is running" in text, our_lines(text)


@pytest.fixture(scope="module")
def reinstalled(installed, rebuilt_msi, config_path, log, workdir):
    """The same version, rebuilt (another ProductCode), installed over the running one:
    (msiexec result, products before, config before)."""
    wait_for("the first install to run", lambda: service_state() == "RUNNING", timeout=30)
    before = products()
    config = read_text(config_path)
    log.mark()
    result = msiexec("/i", rebuilt_msi, log_path=os.path.join(workdir, "reinstall.log"))
    return result, before, config


def test_the_same_version_installed_again_replaces_the_installed_product(reinstalled,
                                                                         config_path):
    result, before, config = reinstalled
    assert result.returncode == 0, result.stdout + result.stderr
    after = products()
    assert len(before) == 1 and len(after) == 1, f"before: {before}, after: {after}"
    assert after != before, "the installed product was not replaced"
    assert read_text(config_path) == config, "the reinstall replaced the config"


def test_the_reinstalled_service_runs_quoted_on_the_default_port(reinstalled, log):
    assert log.wait_port("the reinstalled service") == DEFAULT_PORT
    wait_metrics("the reinstalled service to reply", lambda: scrape(DEFAULT_PORT),
                 lambda m: m.get("reachmon_probes_replied_total", target="localhost-v4") >= 1,
                 timeout=20)
    assert image_path() == QUOTED_COMMAND


@pytest.fixture(scope="module")
def edited(reinstalled, config_path):
    """The operator's edit: one more target, and any free port (takes effect at the restart)."""
    cfg = read_json(config_path)
    cfg["targets"].append({"name": "operator-edit", "host": "127.0.0.1"})
    cfg["listen"] = LISTEN_ANY_PORT
    with open(config_path, "w") as f:
        json.dump(cfg, f, indent=2)
    return read_text(config_path)


@pytest.fixture(scope="module")
def upgraded(edited, newer_msi, log, workdir):
    """The running service picked the edit up; then the newer MSI was installed over it."""
    wait_for("the edit to be probed", lambda: scrape(DEFAULT_PORT).has(
        "reachmon_probes_sent_total", target="operator-edit"), timeout=20)
    log.mark()
    return msiexec("/i", newer_msi[1], log_path=os.path.join(workdir, "upgrade.log"))


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


@pytest.fixture(scope="module")
def uninstalled(upgraded, newer_msi, log, workdir):
    """msiexec /x of the upgraded product: (result, the port its service listened on)."""
    port = log.wait_port("the upgraded service")
    return msiexec("/x", newer_msi[1], log_path=os.path.join(workdir, "uninstall.log")), port


def test_msiexec_x_removes_service_and_program_files_and_keeps_the_config(
        uninstalled, dirs, edited, config_path):
    result, port = uninstalled
    assert result.returncode == 0, result.stdout + result.stderr
    assert wine("sc", "query", "reachmon").returncode != 0, "the service is still registered"
    assert not os.path.exists(dirs["program"]), os.listdir(dirs["program"])
    assert read_text(config_path) == edited, "the config did not stay in ProgramData"
    wait_for("nothing to listen any more", lambda: not listening(port), timeout=10)


# An unknown key: the service refuses the file and says which key, with its JSON path.
INVALID_CONFIG = '{ "listen": "127.0.0.1:0", "targets": [], "no_such_key": 1 }\n'


@pytest.fixture(scope="module")
def installed_over_invalid_config(uninstalled, msi, config_path, log, workdir):
    """An install over a kept config that the service refuses: (msiexec result, MSI log path)."""
    with open(config_path, "w") as f:
        f.write(INVALID_CONFIG)
    log_path = os.path.join(workdir, "install-invalid-config.log")
    log.mark()
    return msiexec("/i", msi, log_path=log_path), log_path


def test_an_invalid_kept_config_does_not_roll_the_install_back(installed_over_invalid_config,
                                                               dirs, config_path):
    result, _ = installed_over_invalid_config
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(products()) == 1, products()
    assert os.path.exists(os.path.join(dirs["program"], "reachmon.exe"))
    assert read_text(config_path) == INVALID_CONFIG, "the MSI replaced the kept config"


def test_the_service_is_installed_but_stopped_and_says_why(installed_over_invalid_config, log):
    wait_for("the service to stop", lambda: service_state() == "STOPPED", timeout=30)
    assert image_path() == QUOTED_COMMAND
    wait_for("the service log to name the refused key", lambda: "no_such_key" in log.since(),
             timeout=10)


def test_the_msi_log_says_the_start_was_attempted_and_where_the_reason_is(
        installed_over_invalid_config):
    _, log_path = installed_over_invalid_config
    text = msi_log(log_path)
    assert "reachmon: start of the service reachmon requested" in text, our_lines(text)
    assert re.search(r"reachmon: the service reachmon did not start \(it stopped, exit code 1\)"
                     r".*C:\\ProgramData\\reachmon\\logs\\reachmon\.log", text), our_lines(text)
