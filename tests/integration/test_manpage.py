"""The man page (docs/reachmon.8, installed as reachmon(8)) renders without a warning and keeps up
with the program: every command `reachmon --help` lists has a section, and every long option that
`reachmon COMMAND --help` prints is described.

Run by ctest (manpage): pytest test_manpage.py --reachmon=BINARY
"""
import os
import re
import subprocess

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MANPAGE = os.path.join(ROOT, "docs", "reachmon.8")
LONG_OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")


def run(*cmd):
    return subprocess.run(list(cmd), capture_output=True, text=True, timeout=30)


def plain(roff):
    """The man page's source as text: font changes and break points gone, escapes resolved."""
    text = re.sub(r"\\f[BIRP]", "", roff)
    for escape, char in (("\\-", "-"), ("\\e", "\\"), ("\\:", ""), ("\\[dq]", '"')):
        text = text.replace(escape, char)
    return text


@pytest.fixture(scope="module")
def manpage():
    with open(MANPAGE) as f:
        return plain(f.read())


def help_of(reachmon_bin, *command):
    r = run(reachmon_bin, *command, "--help")
    assert r.returncode == 0, f"reachmon {' '.join(command)} --help: {r.stdout}{r.stderr}"
    return r.stdout


def commands(reachmon_bin):
    """The commands `reachmon --help` lists (CLI11's "SUBCOMMANDS:" section)."""
    text = help_of(reachmon_bin)
    section = re.search(r"^SUBCOMMANDS:\n((?:[ \t]+\S.*\n?)+)", text, re.M | re.I)
    assert section, f"no list of commands in reachmon --help:\n{text}"
    return [line.split()[0] for line in section[1].splitlines()]


def test_groff_renders_the_man_page_without_warnings():
    r = run("groff", "-ww", "-z", "-man", MANPAGE)
    assert r.returncode == 0 and not r.stderr, r.stderr


def sections(manpage):
    """{command: the text of its section}: from its .SS line to the next .SS or .SH."""
    result = {}
    parts = re.split(r"^(\.S[SH] .*)$", manpage, flags=re.M)
    for heading, body in zip(parts[1::2], parts[2::2]):
        if heading.startswith(".SS "):
            for name in re.findall(r"[a-z][a-z-]+", heading[4:].split("(")[0]):
                result.setdefault(name, heading + body)
    return result


def test_every_command_has_a_section(reachmon_bin, manpage):
    names = commands(reachmon_bin)
    assert {"run", "check-config", "probe"} <= set(names), names
    missing = [n for n in names if n not in sections(manpage)]
    assert not missing, f"no .SS section in docs/reachmon.8 for {missing}"


@pytest.mark.parametrize("command", ["", "run", "check-config", "interfaces", "probe",
                                     "hash-password"])
def test_every_long_option_of_a_command_is_in_its_section(reachmon_bin, manpage, command):
    """In the command's own section (--help, which every command takes, anywhere)."""
    args = [command] if command else []
    options = set(LONG_OPTION.findall(help_of(reachmon_bin, *args)))
    if command in ("run", "probe"):
        assert len(options) > 2, f"too few options found in reachmon {command} --help: {options}"
    section = sections(manpage).get(command, "") if command else manpage
    missing = sorted(o for o in options if not re.search(
        rf"(?<![\w-]){o}(?![\w-])", manpage if o == "--help" else section))
    where = f"the {command} section of " if command else ""
    assert not missing, f"{where}docs/reachmon.8 does not describe {missing} of " \
        f"reachmon {command} --help"
