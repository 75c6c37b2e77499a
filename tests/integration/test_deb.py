#!/usr/bin/env python3
"""The .deb on this machine, as an operator uses it: dpkg -i installs the binary, unit, examples,
docs, the service user and a default config; an edited config survives installing a newer .deb;
systemd-analyze accepts the installed unit; dpkg --purge removes everything.
This test installs a real package on the test machine (root only) and purges it again.

Usage: test_deb.py BUILD_DIR WORKDIR
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from reachmon_testlib import TestRun, require_root  # noqa: E402

CONFIG = "/etc/reachmon/reachmon.json"
FILES = ["/usr/sbin/reachmon", "/usr/lib/systemd/system/reachmon.service",
         "/usr/share/reachmon/examples/loopback.json", "/usr/share/reachmon/examples/reachmon.json",
         "/usr/share/doc/reachmon/README.md", "/usr/share/doc/reachmon/metrics.md", CONFIG]


def run(*cmd, **kw):
    return subprocess.run(list(cmd), capture_output=True, text=True, **kw)


def main():
    require_root()
    build, work = sys.argv[1:3]
    os.makedirs(work, exist_ok=True)
    t = TestRun("deb")
    version = run("cmake", "-L", "-N", build).stdout
    current = next(line.split("=", 1)[1] for line in version.splitlines()
                   if line.startswith("REACHMON_PACKAGE_VERSION"))
    major, minor, patch = current.split(".")
    newer = f"{major}.{minor}.{int(patch) + 1}"
    for v in (current, newer):
        r = run("cpack", "-G", "DEB", "-B", work, "-R", v, cwd=build)
        t.check(f"cpack builds reachmon_{v}_amd64.deb", r.returncode == 0, r.stdout + r.stderr)
    old_deb = os.path.join(work, f"reachmon_{current}_amd64.deb")
    new_deb = os.path.join(work, f"reachmon_{newer}_amd64.deb")

    run("dpkg", "--purge", "reachmon")  # leftovers of an interrupted run
    try:
        r = run("dpkg", "-i", old_deb)
        t.check("dpkg -i installs the package", r.returncode == 0, r.stdout + r.stderr)
        missing = [f for f in FILES if not os.path.exists(f)]
        t.check("binary, unit, examples, docs and default config are installed", not missing, missing)
        t.check("the service user exists", run("getent", "passwd", "reachmon").returncode == 0)
        r = run("/usr/sbin/reachmon", "check-config", CONFIG)
        t.check("the installed default config is valid", r.returncode == 0, r.stdout + r.stderr)
        r = run("systemd-analyze", "verify", "--man=no", "/usr/lib/systemd/system/reachmon.service")
        t.check("systemd-analyze verify accepts the installed unit",
                r.returncode == 0 and not r.stderr.strip(), r.stdout + r.stderr)

        with open(CONFIG) as f:
            original = f.read()
        cfg = json.loads(original)
        cfg["targets"].append({"name": "operator-edit", "host": "127.0.0.1"})
        edited = json.dumps(cfg, indent=2)
        with open(CONFIG, "w") as f:
            f.write(edited)
        t.check("the operator's edit is a real change", edited != original)
        r = run("dpkg", "-i", new_deb)
        t.check("a newer .deb installs over it", r.returncode == 0, r.stdout + r.stderr)
        status = run("dpkg-query", "-W", "-f=${Version}", "reachmon").stdout
        t.check(f"dpkg reports version {newer}", status == newer, status)
        t.check("the edited config survives the upgrade", open(CONFIG).read() == edited)
        r = run("dpkg", "-i", new_deb)
        t.check("reinstalling the same version keeps the edit too",
                r.returncode == 0 and open(CONFIG).read() == edited)
    finally:
        r = run("dpkg", "--purge", "reachmon")
    t.check("dpkg --purge succeeds", r.returncode == 0, r.stdout + r.stderr)
    left = [f for f in FILES + ["/etc/reachmon"] if os.path.exists(f)]
    t.check("purge leaves no files behind", not left, left)
    t.check("purge removes the service user", run("getent", "passwd", "reachmon").returncode != 0)
    t.check("dpkg no longer knows the package",
            "installed" not in run("dpkg-query", "-W", "-f=${Status}", "reachmon").stdout)
    return t.close()


if __name__ == "__main__":
    sys.exit(main())
