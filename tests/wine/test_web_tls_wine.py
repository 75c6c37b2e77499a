"""TLS and basic authentication of reachmon.exe under Wine: the Windows build's static OpenSSL
serves a certificate made here by openssl, its libxcrypt hashes a password (`hash-password`,
random salt from BCryptGenRandom) and checks it, and POST /-/reload obeys `enable_reload` and the
Origin rule. Every request is a real curl from Linux to the console run's port.

Run by ctest (wine_web_tls; WINEPREFIX set and initialised):
    pytest test_web_tls_wine.py --reachmon=REACHMON_EXE --workdir=DIR
"""
import crypt
import os
import subprocess
import tempfile

from pki import SERVER_EXT, curl, make_ca, make_cert
from reachmon_testlib import LISTEN_ANY_PORT, wait_for, write_json
from wine_testlib import ConsoleRun, windows_path

PASSWORD = "wine: s3cret"


def hash_password(reachmon_bin):
    """reachmon.exe hash-password, the password on its standard input (files, not pipes: Wine's
    helper processes inherit handles)."""
    with tempfile.TemporaryFile("w+") as stdin, tempfile.TemporaryFile("w+") as out:
        stdin.write(PASSWORD + "\n")
        stdin.seek(0)
        r = subprocess.run(["wine", reachmon_bin, "hash-password", "--cost", "6"], stdin=stdin,
                           stdout=out, stderr=subprocess.STDOUT, timeout=120)
        out.seek(0)
        text = out.read()
    assert r.returncode == 0, text
    return text.strip().splitlines()[-1]


def test_tls_and_basic_auth_on_windows(wine_session, reachmon_bin, workdir):
    d = os.path.join(workdir, "web-tls")
    os.makedirs(d, exist_ok=True)
    make_ca(d, "ca")
    make_cert(d, "server", "ca", SERVER_EXT)
    hashed = hash_password(reachmon_bin)
    # The Windows build's bcrypt is the standard one: Linux's libxcrypt agrees.
    assert hashed.startswith("$2b$06$") and crypt.crypt(PASSWORD, hashed) == hashed, hashed

    write_json(os.path.join(d, "web.json"), {
        "tls_server_config": {"cert_file": windows_path(os.path.join(d, "server.pem")),
                              "key_file": windows_path(os.path.join(d, "server.key"))},
        "basic_auth_users": {"prometheus": hashed}})
    path = os.path.join(d, "reachmon.json")
    write_json(path, {"listen": LISTEN_ANY_PORT, "web": {"config_file": "web.json"},
                      "defaults": {"interval": "200ms", "timeout": "150ms"},
                      "sources": [{"name": "lo4", "address": "127.0.0.1"}],
                      "targets": [{"name": "self", "host": "127.0.0.1"}]})
    with ConsoleRun(reachmon_bin, path, os.path.join(d, "console.log")) as console:
        port = console.wait_port("the console run to serve", timeout=60)
        assert f"metrics on https://127.0.0.1:{port}/metrics" in console.text()
        url = f"https://127.0.0.1:{port}"
        ca = ["--cacert", os.path.join(d, "ca.pem")]
        auth = ["-u", f"prometheus:{PASSWORD}"]
        code, body, _, _ = wait_for("an HTTPS scrape", lambda: (
            r := curl(url + "/metrics", *ca, *auth)) and r[0] == 200 and r, timeout=30)
        assert "reachmon_build_info" in body and 'platform="windows"' in body, body[:500]
        code, body, headers, _ = curl(url + "/metrics", *ca)
        assert code == 401 and "www-authenticate: basic realm=" in headers.lower(), headers
        assert curl(url + "/metrics", *ca, "-u", "prometheus:wrong")[0] == 401
        assert curl(url + "/metrics", *auth)[3] == 60  # not our CA: certificate refused
        # Reload over HTTP is off by default.
        code, body, _, _ = curl(url + "/-/reload", *ca, *auth, "-X", "POST")
        assert code == 403 and "enable_reload" in body, body
        rc, _ = console.ctrl_c(30)
        assert rc == 0, console.text()[-1000:]
