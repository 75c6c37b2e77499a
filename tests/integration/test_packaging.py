"""What ships beside the binary stays true: the JSON Schema accepts every valid example config
(and rejects structurally wrong ones), and systemd accepts the hardened unit.

Run by ctest (packaging): pytest test_packaging.py --reachmon=BINARY --workdir=DIR
"""
import glob
import json
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
           "port_out_of_range", "port_without_udp", "bad_buckets", "schema_not_top_level")
UNIT = os.path.join(ROOT, "installer", "linux", "reachmon.service")


def read_config(path):
    """A config file's document: its // and /* */ comments, which reachmon reads as white space,
    blanked first (json.load refuses them)."""
    text, out, i = read_text(path), [], 0
    while i < len(text):
        if text[i] == '"':  # a string, whatever it holds
            j = i + 1
            while text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = len(text) if j < 0 else j
        elif text.startswith("/*", i):
            j = text.index("*/", i + 2) + 2
            out.append(" ")
            i = j
        else:
            out.append(text[i])
            i += 1
    return json.loads("".join(out))


@pytest.fixture(scope="module")
def validator():
    schema = read_json(os.path.join(ROOT, "docs", "config.schema.json"))
    return jsonschema.Draft202012Validator(schema)


def test_there_are_valid_examples_to_check():
    assert len(VALID) >= 3, VALID


@pytest.mark.parametrize("path", VALID, ids=lambda p: os.path.relpath(p, ROOT))
def test_schema_accepts_every_valid_config(validator, path):
    errors = [e.message for e in validator.iter_errors(read_config(path))]
    assert not errors, f"docs/config.schema.json rejects {os.path.relpath(path, ROOT)}: {errors}"


@pytest.mark.parametrize("name", INVALID)
def test_schema_rejects_structurally_invalid_configs(validator, name):
    doc = read_config(os.path.join(ROOT, "tests", "config", "invalid", name + ".json"))
    assert not validator.is_valid(doc), f"docs/config.schema.json accepts invalid/{name}.json"


def test_a_valid_example_has_comments_and_a_schema_key():
    path = os.path.join(ROOT, "tests", "config", "valid", "commented.json")
    text = read_text(path)
    assert "//" in text and "/*" in text
    assert read_config(path)["$schema"] == "../../../docs/config.schema.json"
    # The relative path names the schema, from the file's own directory (as editors resolve it).
    schema = os.path.join(os.path.dirname(path), read_config(path)["$schema"])
    assert os.path.samefile(schema, os.path.join(ROOT, "docs", "config.schema.json"))


def test_schema_durations_are_the_parsers(validator):
    """tests/config/durations.json, which config_test checks against the parser: jsonschema (with
    Python's re) accepts the spellings the parser reads and refuses the others."""
    samples = read_json(os.path.join(ROOT, "tests", "config", "durations.json"))
    base = {"sources": [{"name": "a", "address": "127.0.0.1"}],
            "targets": [{"name": "t", "host": "127.0.0.1"}]}

    def accepts(duration):
        as_key = dict(base, min_send_gap=duration)
        as_bound = dict(base, defaults={"buckets": [duration]})
        assert validator.is_valid(as_key) == validator.is_valid(as_bound), duration
        return validator.is_valid(as_key)

    spelled_right = (list(samples["valid"]) + samples["finer_than_1us"] +
                     samples["too_long"])
    assert [d for d in spelled_right if not accepts(d)] == []
    # Python's "$" also matches before a final line break (editors' JavaScript does not).
    refused = [d for d in samples["invalid"] if not d.endswith("\n")]
    assert len(refused) >= 40
    assert [d for d in refused if accepts(d)] == []


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
