"""What ships beside the binary stays true: the JSON Schema accepts every valid example config
(and rejects structurally wrong ones), and systemd accepts the hardened unit.

Run by ctest (packaging): pytest test_packaging.py --reachmon=BINARY --workdir=DIR
"""
import glob
import os
import subprocess

import jsonschema
import pytest
from reachmon_testlib import read_json, read_text

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
VALID = sorted(glob.glob(os.path.join(ROOT, "config", "examples", "*.json")) +
               glob.glob(os.path.join(ROOT, "tests", "config", "valid", "*.json")))
INVALID = ("unknown_top_key", "wrong_type_ttl", "ttl_out_of_range", "address_and_interface",
           "bad_duration", "missing_targets", "reserved_label", "unknown_probe",
           "port_out_of_range", "port_without_udp", "bad_buckets")
UNIT = os.path.join(ROOT, "installer", "linux", "reachmon.service")


@pytest.fixture(scope="module")
def validator():
    schema = read_json(os.path.join(ROOT, "docs", "config.schema.json"))
    return jsonschema.Draft202012Validator(schema)


def test_there_are_valid_examples_to_check():
    assert len(VALID) >= 3, VALID


@pytest.mark.parametrize("path", VALID, ids=lambda p: os.path.relpath(p, ROOT))
def test_schema_accepts_every_valid_config(validator, path):
    errors = [e.message for e in validator.iter_errors(read_json(path))]
    assert not errors, f"docs/config.schema.json rejects {os.path.relpath(path, ROOT)}: {errors}"


@pytest.mark.parametrize("name", INVALID)
def test_schema_rejects_structurally_invalid_configs(validator, name):
    doc = read_json(os.path.join(ROOT, "tests", "config", "invalid", name + ".json"))
    assert not validator.is_valid(doc), f"docs/config.schema.json accepts invalid/{name}.json"


def test_systemd_analyze_verify_accepts_the_unit(reachmon_bin, workdir):
    unit_path = os.path.join(workdir, "reachmon.service")
    with open(unit_path, "w") as f:  # point ExecStart at the freshly built binary
        f.write(read_text(UNIT).replace("/usr/sbin/reachmon", reachmon_bin))
    r = subprocess.run(["systemd-analyze", "verify", "--man=no", unit_path],
                       capture_output=True, text=True)
    assert r.returncode == 0 and not r.stderr.strip(), r.stdout + r.stderr


@pytest.mark.parametrize("setting", ["DynamicUser=yes", "CapabilityBoundingSet=\n",
                                     "ProtectSystem=strict", "NoNewPrivileges=yes",
                                     "StateDirectory=reachmon"], ids=str.strip)
def test_the_unit_is_hardened(setting):
    assert setting in read_text(UNIT), f"the unit does not set {setting.strip()}"
