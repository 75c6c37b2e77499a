#!/usr/bin/env python3
"""What ships beside the binary stays true: the JSON Schema accepts every valid example config
(and rejects structurally wrong ones), and systemd accepts the hardened unit.

Usage: test_packaging.py REACHMON_BINARY WORKDIR
"""
import glob
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from reachmon_testlib import TestRun  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def main():
    binary, work = sys.argv[1:3]
    os.makedirs(work, exist_ok=True)
    t = TestRun("packaging")
    import jsonschema
    schema = json.load(open(os.path.join(ROOT, "docs", "config.schema.json")))
    validator = jsonschema.Draft202012Validator(schema)
    valid = glob.glob(os.path.join(ROOT, "config", "examples", "*.json")) + \
        glob.glob(os.path.join(ROOT, "tests", "config", "valid", "*.json"))
    for path in sorted(valid):
        errors = [e.message for e in validator.iter_errors(json.load(open(path)))]
        t.check(f"schema accepts {os.path.relpath(path, ROOT)}", not errors, errors)
    for name in ("unknown_top_key", "wrong_type_ttl", "ttl_out_of_range", "address_and_interface",
                 "bad_duration", "missing_targets", "reserved_label"):
        doc = json.load(open(os.path.join(ROOT, "tests", "config", "invalid", name + ".json")))
        t.check(f"schema rejects invalid/{name}.json", not validator.is_valid(doc))

    unit = open(os.path.join(ROOT, "installer", "linux", "reachmon.service")).read()
    unit_path = os.path.join(work, "reachmon.service")
    with open(unit_path, "w") as f:  # point ExecStart at the freshly built binary
        f.write(unit.replace("/usr/sbin/reachmon", os.path.abspath(binary)))
    r = subprocess.run(["systemd-analyze", "verify", "--man=no", unit_path], capture_output=True, text=True)
    t.check("systemd-analyze verify accepts the unit", r.returncode == 0 and not r.stderr.strip(),
            r.stdout + r.stderr)
    for setting in ("DynamicUser=yes", "CapabilityBoundingSet=\n", "ProtectSystem=strict",
                    "NoNewPrivileges=yes", "StateDirectory=reachmon"):
        t.check(f"unit sets {setting.strip()}", setting in unit)
    return t.close()


if __name__ == "__main__":
    sys.exit(main())
