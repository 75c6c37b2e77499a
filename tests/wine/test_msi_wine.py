"""The MSI under Wine, as an operator uses it: msiexec /i installs the files, the service with a
quoted command line, %ProgramData%\\reachmon and its logs\\ folder with protected ACLs and the
config from the shipped example, and starts the service, which answers /metrics from Linux on
the documented default port with replied loopback probes. The same version installed again
replaces the installed product in place; an edited config survives a major upgrade to a newer
MSI, and the upgraded service runs with it; msiexec /x stops and removes the service and the
program files and leaves the config in ProgramData. An install over a kept config that is
invalid succeeds: the service is installed but stopped, and the MSI log and the service's log say
why. Unattended installs: invalid LISTEN, CONFIG and FIREWALL values end the install before it
changes anything, each named in the MSI log; LISTEN and CONFIG become the service's --listen and
--config (the config created from the example; the service answers on LISTEN's port), FIREWALL=1
passes the rule for LISTEN's port to the firewall API, an upgrade keeps what it is not given, a
loopback LISTEN gets no rule, and the uninstall removes the rule and the remembered values.

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
        # What the build does after wixl (installer/CMakeLists.txt).
        secure = os.path.join(os.path.dirname(path_option("wxs")), "msi_secure_properties.cmake")
        r = subprocess.run(["cmake", f"-DMSI={out}", "-P", secure], capture_output=True, text=True)
        assert r.returncode == 0, f"msi_secure_properties.cmake fails on {name}:\n{r.stderr}"
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


# Unattended installs: LISTEN, CONFIG and FIREWALL (reachmon.wxs, msi_actions.cpp PrepareInstall).
CUSTOM_CONFIG = "C:\\reachmon-test\\conf\\reachmon.json"
SETTINGS_KEY = r"HKLM\Software\reachmon"


def remembered_properties():
    out = wine("reg", "query", SETTINGS_KEY, "/v", "InstallProperties").stdout
    m = re.search(r"InstallProperties\s+REG_SZ\s+(.*\S)", out)
    return m[1] if m else None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def refused(installed_over_invalid_config, msi, workdir):
    """An install with three invalid properties over the installed product:
    (msiexec result, its MSI log, ImagePath before, products before)."""
    before = image_path(), products()
    log_path = os.path.join(workdir, "install-refused.log")
    result = msiexec("/i", msi, "LISTEN=localhost:9643", "CONFIG=reachmon.json", "FIREWALL=yes",
                     log_path=log_path)
    return result, msi_log(log_path), *before


def test_invalid_properties_end_the_install_before_any_change(refused):
    result, text, image_before, products_before = refused
    # ERROR_INSTALL_FAILURE (1603), as Linux sees the exit code of the Wine process: its low byte.
    assert result.returncode == 1603 % 256, result.stdout + result.stderr
    assert "reachmon: reachmon cannot be installed with these properties:" in text, our_lines(text)
    for expected in ('LISTEN: invalid listen address "localhost:9643": use "IPv4:port" or '
                     '"[IPv6]:port", e.g. "127.0.0.1:9643"',
                     'CONFIG: "reachmon.json": not an absolute path',
                     'FIREWALL: "yes": use FIREWALL=1'):
        assert expected in text, our_lines(text)
    assert products() == products_before, "the installed product was replaced"
    assert image_path() == image_before == QUOTED_COMMAND


@pytest.fixture(scope="module")
def custom_config(wine_prefix):
    """CUSTOM_CONFIG as a Linux path; its folders are gone before the test and after it."""
    top = os.path.join(wine_prefix, "drive_c", "reachmon-test")
    subprocess.run(["rm", "-rf", top])
    yield os.path.join(top, "conf", "reachmon.json")
    subprocess.run(["rm", "-rf", top])


@pytest.fixture(scope="module")
def unattended(refused, msi, custom_config, workdir):
    """msiexec /i MSI LISTEN=0.0.0.0:PORT CONFIG=CUSTOM_CONFIG FIREWALL=1 over the installed
    product: (result, MSI log, PORT). The config in ProgramData is still the invalid one, so a
    service that answers runs with CONFIG."""
    port = free_port()
    log_path = os.path.join(workdir, "install-unattended.log")
    result = msiexec("/i", msi, f"LISTEN=0.0.0.0:{port}", f"CONFIG={CUSTOM_CONFIG}", "FIREWALL=1",
                     log_path=log_path)
    return result, msi_log(log_path), port


def test_listen_and_config_go_into_the_service_command_line(unattended):
    result, text, port = unattended
    assert result.returncode == 0, result.stdout + result.stderr
    expected = f'{QUOTED_COMMAND} --config "{CUSTOM_CONFIG}" --listen 0.0.0.0:{port}'
    assert image_path() == expected
    assert f"reachmon: service reachmon command line: {expected}" in text, our_lines(text)


def test_config_is_created_from_the_example_and_protected(unattended, custom_config, dirs,
                                                          config_path):
    _, text, _ = unattended
    assert read_json(custom_config) == read_json(os.path.join(dirs["program"],
                                                              "reachmon.example.json"))
    assert f"reachmon: created {CUSTOM_CONFIG} from " in text, our_lines(text)
    # The DACL of %ProgramData%\reachmon, on the file alone (its folder is the operator's).
    assert f"reachmon: protected {CUSTOM_CONFIG}: O:BAG:SYD:P(A;;FA;;;SY)(A;;FA;;;BA)" \
           "(A;;0x1200a9;;;BU) (read back: " in text, our_lines(text)
    assert read_text(config_path) == INVALID_CONFIG, "the config in ProgramData was replaced"


def test_the_service_runs_with_config_and_listen(unattended):
    """The example listens on 9643; the service answers on LISTEN's port instead, and probes:
    it runs with the config CONFIG names (the default one would stop it)."""
    _, _, port = unattended
    m = wait_metrics("the service on LISTEN's port", lambda: scrape(port),
                     lambda m: m.get("reachmon_probes_replied_total", target="localhost-v4") >= 1,
                     timeout=30)
    assert m.has("reachmon_build_info", platform="windows")
    assert not listening(DEFAULT_PORT), "the service listens where the config says, not LISTEN"


def test_firewall_1_adds_the_rule_for_listens_port(unattended):
    """What reaches the firewall API: Wine's accepts the rule and keeps nothing (its Item is not
    implemented), so the rule itself is read back on Windows only."""
    _, text, port = unattended
    assert ('reachmon: added the firewall rule "reachmon": inbound TCP to port '
            f'{port} on any local address for C:\\Program Files\\reachmon\\reachmon.exe, every '
            'profile') in text, our_lines(text)


def test_the_properties_are_remembered(unattended):
    _, _, port = unattended
    assert remembered_properties() == f"0.0.0.0:{port}|{CUSTOM_CONFIG}|1"


@pytest.fixture(scope="module")
def upgraded_with_loopback(unattended, newer_msi, workdir):
    """The newer MSI with LISTEN=127.0.0.1:PORT2 only: CONFIG and FIREWALL=1 come from the
    installed product. (result, MSI log, PORT2)."""
    port = free_port()
    log_path = os.path.join(workdir, "upgrade-unattended.log")
    result = msiexec("/i", newer_msi[1], f"LISTEN=127.0.0.1:{port}", log_path=log_path)
    return result, msi_log(log_path), port


def test_an_upgrade_keeps_what_it_is_not_given_and_takes_what_it_is(upgraded_with_loopback):
    result, text, port = upgraded_with_loopback
    assert result.returncode == 0, result.stdout + result.stderr
    assert image_path() == f'{QUOTED_COMMAND} --config "{CUSTOM_CONFIG}" --listen 127.0.0.1:{port}'
    assert f"reachmon: CONFIG={CUSTOM_CONFIG}: as the installed reachmon was installed" in text, \
        our_lines(text)
    assert "reachmon: FIREWALL=1: as the installed reachmon was installed" in text, our_lines(text)
    assert remembered_properties() == f"127.0.0.1:{port}|{CUSTOM_CONFIG}|1"
    wait_metrics("the upgraded service on the new LISTEN port", lambda: scrape(port),
                 lambda m: m.get("reachmon_probes_replied_total", target="localhost-v4") >= 1,
                 timeout=30)


def test_a_loopback_listen_gets_no_firewall_rule(upgraded_with_loopback):
    _, text, port = upgraded_with_loopback
    assert (f"reachmon: no firewall rule: LISTEN 127.0.0.1:{port} is a loopback address"
            in text), our_lines(text)
    assert "added the firewall rule" not in text, our_lines(text)


@pytest.fixture(scope="module")
def unattended_uninstalled(upgraded_with_loopback, newer_msi, workdir):
    log_path = os.path.join(workdir, "uninstall-unattended.log")
    return msiexec("/x", newer_msi[1], log_path=log_path), msi_log(log_path)


def test_uninstall_removes_the_rule_and_what_was_remembered(unattended_uninstalled,
                                                            custom_config):
    result, text = unattended_uninstalled
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'reachmon: removed the firewall rule "reachmon"' in text, our_lines(text)
    assert remembered_properties() is None, "the uninstall left HKLM\\Software\\reachmon"
    assert wine("sc", "query", "reachmon").returncode != 0, "the service is still registered"
    assert os.path.exists(custom_config), "the uninstall removed the operator's config"
