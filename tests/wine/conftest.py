"""Fixtures of the Windows tests under Wine: the prefix, one Wine session per module, and the
SCM's and the service's own words attached to every failure."""
import os

import pytest
from wine_testlib import WineSession, diagnostics


@pytest.fixture(scope="session")
def wine_prefix():
    prefix = os.environ.get("WINEPREFIX")
    if not prefix or not os.path.exists(os.path.join(prefix, "system.reg")):
        pytest.fail("WINEPREFIX must name an initialised Wine prefix (scripts/test-windows)",
                    pytrace=False)
    return prefix


@pytest.fixture(scope="session")
def control_exe(path_option):
    return path_option("service-control")


@pytest.fixture(scope="module")
def wine_session(wine_prefix):
    """One Wine session for the whole module, so Wine never shuts the service down mid-test."""
    with WineSession() as session:
        yield session


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and "wine_session" in item.fixturenames and os.environ.get("WINEPREFIX"):
        report.sections.append(("Wine diagnostics", diagnostics(os.environ["WINEPREFIX"])))
