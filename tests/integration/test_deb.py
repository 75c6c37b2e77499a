"""The .deb on this machine, as an operator uses it: lintian finds nothing to complain about
(no error, no warning); dpkg -i installs the binary, unit, examples, docs, the JSON Schema, the
copyright file (machine-readable), the changelog (with the package's version, signed by its
maintainer) and the man page (which man renders without a warning), the service user and a
default config, and enables the unit; an edited config survives installing a newer .deb and a
reinstall, and a deleted one is created again; systemd-analyze accepts the installed unit;
dpkg --purge removes everything, the unit's enablement included.
This test installs a real package on the test machine (root only) and purges it again.

Run by ctest (deb_package): pytest test_deb.py --build-dir=BUILD_DIR --workdir=DIR
"""
import gzip
import json
import os
import re
import subprocess

import pytest
from reachmon_testlib import read_text

pytestmark = pytest.mark.root

CONFIG = "/etc/reachmon/reachmon.json"
EXAMPLE = "/usr/share/reachmon/examples/loopback.json"
SCHEMA = "/usr/share/reachmon/config.schema.json"
COPYRIGHT = "/usr/share/doc/reachmon/copyright"
# A native package (no Debian revision in the version): changelog.gz, not changelog.Debian.gz.
CHANGELOG = "/usr/share/doc/reachmon/changelog.gz"
MANPAGE = "/usr/share/man/man8/reachmon.8.gz"
FILES = ["/usr/sbin/reachmon", "/usr/lib/systemd/system/reachmon.service", EXAMPLE,
         "/usr/share/reachmon/examples/reachmon.json", "/usr/share/doc/reachmon/README.md",
         "/usr/share/doc/reachmon/metrics.md", "/usr/share/doc/reachmon/status-page.md",
         "/usr/share/doc/reachmon/status-page.png", SCHEMA, COPYRIGHT, CHANGELOG, MANPAGE, CONFIG]
# deb-systemd-helper's enablement of the unit (also where systemd does not run).
ENABLED = "/etc/systemd/system/multi-user.target.wants/reachmon.service"
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


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


def test_lintian_reports_no_error_and_no_warning(debs):
    """Informational tags (hardening flags the build does not set, ...) are allowed."""
    r = run("lintian", "--fail-on", "error,warning", debs[1])
    tags = [line for line in r.stdout.splitlines() if re.match(r"[EW]: ", line)]
    assert r.returncode == 0 and not tags, r.stdout + r.stderr


def test_the_maintainer_field_is_a_name_and_a_mail_address(debs):
    maintainer = run("dpkg-deb", "-f", debs[1], "Maintainer").stdout.strip()
    m = re.fullmatch(r"([^<>@]*\S) <([^<>@\s]+)@([^<>@\s]+\.[a-z]+)>", maintainer)
    assert m, f"Maintainer: {maintainer!r} is not 'Name <user@host.domain>'"
    assert m[3] != "localhost" and not m[3].startswith("localhost."), maintainer


def test_dpkg_installs_the_package(installed, debs):
    r = installed["install"]
    assert r.returncode == 0, r.stdout + r.stderr
    assert installed_version() == debs[0]


def test_binary_unit_examples_docs_and_default_config_are_installed(installed):
    missing = [f for f in FILES if not os.path.exists(f)]
    assert not missing, f"not installed: {missing}"


def test_the_schema_is_installed_where_its_own_example_points(installed):
    schema = json.loads(read_text(SCHEMA))
    assert "file:///usr/share/reachmon/config.schema.json" in json.dumps(schema)
    assert read_text(SCHEMA) == read_text(os.path.join(ROOT, "docs", "config.schema.json"))


def deb822(text):
    """The paragraphs of a Debian control-style file: [{field: value}] (continuations joined)."""
    paragraphs = []
    for block in re.split(r"\n\s*\n", text.strip()):
        fields, name = {}, None
        for line in block.splitlines():
            if line[:1] in (" ", "\t") and name:
                fields[name] += "\n" + line.strip()
            else:
                name, _, value = line.partition(":")
                fields[name] = value.strip()
        paragraphs.append(fields)
    return paragraphs


def test_the_copyright_file_is_machine_readable_and_complete(installed):
    """DEP-5: the format header, a Files: * paragraph, and every licence that a Files paragraph
    names without its text has a License paragraph with the text; civetweb, linked statically,
    is listed with its licence."""
    header, *rest = deb822(read_text(COPYRIGHT))
    assert header.get("Format") == \
        "https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/", header
    assert header.get("Upstream-Name") == "reachmon"
    files = [p for p in rest if "Files" in p]
    texts = {p["License"].split("\n")[0]: p["License"] for p in rest if "Files" not in p}
    assert any(p["Files"] == "*" and p.get("Copyright") for p in files), files
    for p in files:
        name, _, text = p["License"].partition("\n")
        assert text or len(texts.get(name, "").split("\n")) > 1, \
            f"no text of the licence {name!r} (Files: {p['Files']})"
    civetweb = [p for p in files if "civetweb" in p["Files"]]
    assert civetweb and civetweb[0]["License"] == "Expat", files


def test_the_changelog_has_the_package_version_and_its_maintainer(installed, debs):
    r = run("dpkg-parsechangelog", "-l", CHANGELOG, "-S", "Version")
    assert r.returncode == 0 and r.stdout.strip() == debs[0], r.stdout + r.stderr
    signer = run("dpkg-parsechangelog", "-l", CHANGELOG, "-S", "Maintainer").stdout.strip()
    assert signer == run("dpkg-deb", "-f", debs[1], "Maintainer").stdout.strip()
    with open(CHANGELOG, "rb") as f:
        assert f.read(4)[3] & 0x08 == 0, "gzip header keeps a file name (not gzip -n)"


def test_man_renders_the_installed_man_page_without_warnings(installed):
    with gzip.open(MANPAGE, "rt") as f:
        assert f.read() == read_text(os.path.join(ROOT, "docs", "reachmon.8"))
    r = run("man", "--warnings", "-l", MANPAGE, env=dict(os.environ, MANWIDTH="80"))
    assert r.returncode == 0 and not r.stderr.strip(), r.stderr
    text = re.sub(r".\x08", "", r.stdout)  # overstrike bold and underline
    assert re.search(r"^NAME\s+reachmon - ", text, re.M), text[:500]


def test_the_unit_is_enabled(installed):
    assert os.path.islink(ENABLED), f"{ENABLED} missing: the unit is not enabled"


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
    r = run("dpkg-parsechangelog", "-l", CHANGELOG, "-S", "Version")
    assert r.stdout.strip() == newer, f"the upgraded changelog says {r.stdout}{r.stderr}"


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
    left += [ENABLED] if os.path.lexists(ENABLED) else []
    assert not left, f"purge left {left}"
    assert run("getent", "passwd", "reachmon").returncode != 0, "purge left the service user"
    assert "installed" not in run("dpkg-query", "-W", "-f=${Status}", "reachmon").stdout
