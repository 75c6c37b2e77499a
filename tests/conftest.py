"""pytest setup shared by the process-level tests: command-line options naming what ctest built,
fixtures for the work directory and reachmon processes, the `root` marker, and exit code 77
(ctest's SKIP_RETURN_CODE) when every test was skipped."""
import collections
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
from reachmon_testlib import Reachmon  # noqa: E402

SKIPPED_EXIT_CODE = 77

OPTIONS = {
    "reachmon": "the reachmon binary under test (reachmon.exe for the Wine tests)",
    "responder": "tests/tools/icmp_responder",
    "service-control": "tests/tools/service_control.exe (Wine)",
    "build-dir": "the CMake build tree (cpack runs there)",
    "msi": "the MSI under test",
    "wxs": "installer/windows/reachmon.wxs, to build a newer MSI",
    "msi-stage": "the directory the MSI's files were staged in",
    "workdir": "scratch directory (default: a pytest temporary directory)",
}


def pytest_addoption(parser):
    group = parser.getgroup("reachmon")
    for name, what in OPTIONS.items():
        group.addoption(f"--{name}", metavar="PATH", help=what)


def option(config, name):
    value = config.getoption(name.replace("-", "_"))
    if not value:
        pytest.fail(f"--{name}=PATH is required: {OPTIONS[name]}", pytrace=False)
    return os.path.abspath(value)


@pytest.fixture(scope="session")
def path_option(pytestconfig):
    """path_option("responder") -> the absolute path given as --responder=PATH (fails if none)."""
    return lambda name: option(pytestconfig, name)


@pytest.fixture(scope="session")
def reachmon_bin(pytestconfig):
    return option(pytestconfig, "reachmon")


@pytest.fixture(scope="session")
def workdir(pytestconfig, tmp_path_factory):
    """The scratch directory (logs, configs, ground truth): --workdir, created if missing and
    left for a look after the run, or a fresh pytest temporary directory."""
    path = pytestconfig.getoption("workdir")
    if not path:
        return str(tmp_path_factory.mktemp("work"))
    os.makedirs(path, exist_ok=True)
    return os.path.abspath(path)


@pytest.fixture
def start_reachmon(reachmon_bin):
    """start_reachmon(config_path, **Reachmon kwargs) -> a ready Reachmon; every process started
    through it is stopped when the test ends, whatever happened."""
    started = []

    def start(config_path, **kwargs):
        rm = Reachmon(reachmon_bin, config_path, **kwargs)
        started.append(rm)
        return rm.wait_ready()
    yield start
    for rm in started:
        rm.stop()


def pytest_collection_modifyitems(config, items):
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="needs root (network namespaces, sysctl, raw sockets, dpkg)")
    for item in items:
        if item.get_closest_marker("root"):
            item.add_marker(skip)


_outcomes = collections.Counter()


def pytest_runtest_logreport(report):
    if report.when == "call" or report.outcome != "passed":
        _outcomes[report.outcome] += 1


def pytest_sessionfinish(session, exitstatus):
    # Every test skipped (e.g. not root): tell ctest "skipped", not "passed".
    ran = _outcomes["passed"] or _outcomes["failed"]
    if exitstatus == 0 and _outcomes["skipped"] and not ran:
        session.exitstatus = SKIPPED_EXIT_CODE
