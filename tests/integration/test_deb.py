"""The .deb on this machine, as an operator uses it: dpkg -i installs the binary, unit, examples,
docs, the service user and a default config; an edited config survives installing a newer .deb
and a reinstall, and a deleted one is created again; systemd-analyze accepts the installed unit;
dpkg --purge removes everything.
This test installs a real package on the test machine (root only) and purges it again.

Run by ctest (deb_package): pytest test_deb.py --build-dir=BUILD_DIR --workdir=DIR
"""
import json
import os
import subprocess

import pytest
from reachmon_testlib import read_text

pytestmark = pytest.mark.root

CONFIG = "/etc/reachmon/reachmon.json"
EXAMPLE = "/usr/share/reachmon/examples/loopback.json"
FILES = ["/usr/sbin/reachmon", "/usr/lib/systemd/system/reachmon.service", EXAMPLE,
         "/usr/share/reachmon/examples/reachmon.json", "/usr/share/doc/reachmon/README.md",
         "/usr/share/doc/reachmon/metrics.md", CONFIG]


def run(*cmd, **kw):
    return subprocess.run(list(cmd), capture_output=True, text=True, **kw)


def installed_version():
    return run("dpkg-query", "-W", "-f=${Version}", "reachmon").stdout


@pytest.fixture(scope="module")
def debs(path_option, workdir):
    """(current version, its .deb, the next patch version, its .deb), built with cpack."""
    build = path_option("build-dir")
    cache = run("cmake", "-L", "-N", build).stdout
    current = next(line.split("=", 1)[1] for line in cache.splitlines()
                   if line.startswith("REACHMON_PACKAGE_VERSION"))
    major, minor, patch = current.split(".")
    newer = f"{major}.{minor}.{int(patch) + 1}"
    for v in (current, newer):
        r = run("cpack", "-G", "DEB", "-B", workdir, "-R", v, cwd=build)
        assert r.returncode == 0, f"cpack fails for reachmon_{v}_amd64.deb:\n{r.stdout}{r.stderr}"
    return (current, os.path.join(workdir, f"reachmon_{current}_amd64.deb"),
            newer, os.path.join(workdir, f"reachmon_{newer}_amd64.deb"))


@pytest.fixture(scope="module")
def installed(debs):
    """The current .deb installed; purged at the end whatever happened (purge_result has how)."""
    current, old_deb, _, _ = debs
    run("dpkg", "--purge", "reachmon")  # leftovers of an interrupted run
    r = run("dpkg", "-i", old_deb)
    state = {"install": r}
    try:
        yield state
    finally:
        state["purge"] = run("dpkg", "--purge", "reachmon")


def test_dpkg_installs_the_package(installed, debs):
    r = installed["install"]
    assert r.returncode == 0, r.stdout + r.stderr
    assert installed_version() == debs[0]


def test_binary_unit_examples_docs_and_default_config_are_installed(installed):
    missing = [f for f in FILES if not os.path.exists(f)]
    assert not missing, f"not installed: {missing}"


def test_the_service_user_exists(installed):
    assert run("getent", "passwd", "reachmon").returncode == 0


def test_the_default_config_is_the_shipped_example_and_valid(installed):
    assert read_text(CONFIG) == read_text(EXAMPLE)
    r = run("/usr/sbin/reachmon", "check-config", CONFIG)
    assert r.returncode == 0, r.stdout + r.stderr


def test_systemd_analyze_verify_accepts_the_installed_unit(installed):
    r = run("systemd-analyze", "verify", "--man=no", "/usr/lib/systemd/system/reachmon.service")
    assert r.returncode == 0 and not r.stderr.strip(), r.stdout + r.stderr


def test_an_edited_config_survives_upgrade_and_reinstall(installed, debs):
    _, _, newer, new_deb = debs
    cfg = json.loads(read_text(CONFIG))
    cfg["targets"].append({"name": "operator-edit", "host": "127.0.0.1"})
    edited = json.dumps(cfg, indent=2)
    with open(CONFIG, "w") as f:
        f.write(edited)
    r = run("/usr/sbin/reachmon", "check-config", CONFIG)
    assert r.returncode == 0, f"the operator's edit is not a valid config: {r.stdout}{r.stderr}"

    r = run("dpkg", "-i", new_deb)
    assert r.returncode == 0, f"a newer .deb does not install over it:\n{r.stdout}{r.stderr}"
    assert installed_version() == newer
    assert read_text(CONFIG) == edited, "the upgrade replaced the edited config"
    r = run("dpkg", "-i", new_deb)
    assert r.returncode == 0, r.stdout + r.stderr
    assert read_text(CONFIG) == edited, "reinstalling the same version replaced the edited config"


def test_a_deleted_config_is_created_again_on_reinstall(installed, debs):
    """The config is kept because it exists, not because the package never writes it."""
    os.remove(CONFIG)
    r = run("dpkg", "-i", debs[3])
    assert r.returncode == 0, r.stdout + r.stderr
    assert os.path.exists(CONFIG) and read_text(CONFIG) == read_text(EXAMPLE)


def test_purge_removes_config_files_user_and_package(installed):
    """Runs last: purges (the fixture's purge then finds nothing left to do) and checks."""
    r = run("dpkg", "--purge", "reachmon")
    assert r.returncode == 0, r.stdout + r.stderr
    left = [f for f in FILES + ["/etc/reachmon"] if os.path.exists(f)]
    assert not left, f"purge left {left}"
    assert run("getent", "passwd", "reachmon").returncode != 0, "purge left the service user"
    assert "installed" not in run("dpkg-query", "-W", "-f=${Status}", "reachmon").stdout
