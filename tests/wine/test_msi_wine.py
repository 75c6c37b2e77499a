#!/usr/bin/env python3
"""The MSI under Wine, as an operator uses it: msiexec /i installs the files and starts the
service, which answers /metrics from Linux with replied loopback probes; an edited config
survives a major upgrade to a newer MSI; msiexec /x stops and removes the service and the
program files and leaves the config in ProgramData.

Usage: test_msi_wine.py MSI WXS STAGE_DIR WORKDIR   (WINEPREFIX set and initialised)
The newer MSI is built from the same staged files with wixl and the next patch version.
"""
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from reachmon_testlib import TestRun, wait_for  # noqa: E402
from test_service_wine import WineSession, scrape, wine  # noqa: E402

UNINSTALL_KEY = r"HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall"


def products():
    out = wine("reg", "query", UNINSTALL_KEY).stdout
    return [line for line in out.splitlines() if re.search(r"\\\{[0-9A-F-]+\}$", line.strip())]


def main():
    msi, wxs, stage, work = sys.argv[1:5]
    os.makedirs(work, exist_ok=True)
    t = TestRun("wine msi")
    prefix = os.environ["WINEPREFIX"]
    program_dir = os.path.join(prefix, "drive_c", "Program Files", "reachmon")
    data_dir = os.path.join(prefix, "drive_c", "ProgramData", "reachmon")
    config = os.path.join(data_dir, "reachmon.json")
    version = re.search(r"reachmon-(\d+)\.(\d+)\.(\d+)-x64\.msi$", msi)
    newer_version = f"{version[1]}.{version[2]}.{int(version[3]) + 1}"
    newer = os.path.join(work, f"reachmon-{newer_version}-x64.msi")
    r = subprocess.run(["wixl", "-a", "x64", "-D", f"Version={newer_version}",
                        "-D", "ExePath=reachmon.exe", "-D", "ConfigPath=reachmon.example.json",
                        "-D", "DocDir=.", "-o", newer, wxs], cwd=stage, capture_output=True, text=True)
    t.check(f"a newer MSI ({newer_version}) builds from the same source", r.returncode == 0, r.stderr)

    with WineSession():
        return run_checks(t, msi, newer, program_dir, data_dir, config)


def run_checks(t, msi, newer, program_dir, data_dir, config):
    try:
        wine("msiexec", "/x", msi, "/qn")  # leftovers of an interrupted run
        subprocess.run(["rm", "-rf", data_dir])
        r = wine("msiexec", "/i", msi, "/qn", timeout=120)
        t.check("msiexec /i installs quietly", r.returncode == 0, r.stdout + r.stderr)
        t.check("program files are installed",
                all(os.path.exists(os.path.join(program_dir, f))
                    for f in ("reachmon.exe", "reachmon.example.json", "README.md")))
        t.check("the service is running", "RUNNING" in wine("sc", "query", "reachmon").stdout)
        wait_for("replies on the default port", lambda: scrape(9643).get(
            "reachmon_probes_replied_total", target="localhost-v4") >= 2, timeout=20)
        t.check("/metrics answers from Linux with replied probes to loopback", True)
        t.check("the config was created in ProgramData from the example",
                json.load(open(config))["targets"][0]["name"] == "localhost-v4")

        # The operator edits the config; a major upgrade must keep it.
        cfg = json.load(open(config))
        cfg["targets"].append({"name": "operator-edit", "host": "127.0.0.1"})
        with open(config, "w") as f:
            json.dump(cfg, f, indent=2)
        edited = open(config).read()
        wait_for("the edit to be probed", lambda: scrape(9643).has(
            "reachmon_probes_sent_total", target="operator-edit"), timeout=20)
        r = wine("msiexec", "/i", newer, "/qn", timeout=120)
        t.check("the newer MSI upgrades in place", r.returncode == 0, r.stdout + r.stderr)
        t.check("the edited config survives the upgrade", open(config).read() == edited)
        t.check("one product is registered after the upgrade", len(products()) == 1, products())
        wait_for("the upgraded service to probe the edited config", lambda: scrape(9643).get(
            "reachmon_probes_replied_total", target="operator-edit") >= 1, timeout=20)
        t.check("the upgraded service runs with the operator's config", True)

        r = wine("msiexec", "/x", newer, "/qn", timeout=120)
        t.check("msiexec /x succeeds", r.returncode == 0, r.stdout + r.stderr)
        t.check("the service is removed", wine("sc", "query", "reachmon").returncode != 0)
        t.check("the program files are removed", not os.path.exists(program_dir),
                os.listdir(program_dir) if os.path.exists(program_dir) else "")
        t.check("the config stays in ProgramData", open(config).read() == edited)
        time.sleep(0.5)
        try:
            scrape(9643)
            still_listening = True
        except OSError:
            still_listening = False
        t.check("nothing listens any more", not still_listening)
    finally:
        wine("msiexec", "/x", newer, "/qn", timeout=120)
    return t.close()


if __name__ == "__main__":
    sys.exit(main())
