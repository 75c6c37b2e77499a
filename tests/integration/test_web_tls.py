"""The HTTP front's web config file with real clients: TLS with certificates made here by openssl,
client certificates, bcrypt basic authentication, POST /-/reload off unless enabled, and requests
with an Origin header that may not change state. Every request is a real curl.

Run by ctest (web_tls): pytest test_web_tls.py --reachmon=BINARY --workdir=DIR
"""
import crypt
import os
import subprocess

import pytest

from pki import CLIENT_EXT, SERVER_EXT, curl, make_ca, make_cert, make_dated_cert, openssl
from reachmon_testlib import (LISTEN_ANY_PORT, Reachmon, listen_port, read_text, wait_for,
                              write_json)

PASSWORD = "correct horse: battery staple"  # a ':' in a password is legal in basic auth


@pytest.fixture(scope="module")
def pki(workdir):
    """ca (signs the server and the good client), rogue-ca (signs an untrusted client)."""
    d = os.path.join(workdir, "pki")
    os.makedirs(d, exist_ok=True)
    make_ca(d, "ca")
    make_ca(d, "rogue-ca")
    make_cert(d, "server", "ca", SERVER_EXT)
    make_cert(d, "client", "ca", CLIENT_EXT)
    make_cert(d, "rogue", "rogue-ca", CLIENT_EXT)
    return d


@pytest.fixture(scope="module")
def password_hash(reachmon_bin):
    r = subprocess.run([reachmon_bin, "hash-password", "--cost", "6"], input=PASSWORD + "\n",
                       capture_output=True, text=True, check=True)
    return r.stdout.strip()


def config(web=None):
    cfg = {"listen": LISTEN_ANY_PORT, "defaults": {"interval": "200ms", "timeout": "150ms"},
           "sources": [{"name": "lo4", "address": "127.0.0.1"}],
           "targets": [{"name": "t1", "host": "127.0.0.1"}]}
    if web is not None:
        cfg["web"] = web
    return cfg


class Started:
    """reachmon with a config file; `url(path)` once it logged its port."""

    def __init__(self, reachmon_bin, workdir, name, cfg, web=None):
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.config_path = os.path.join(self.dir, "reachmon.json")
        self.web_path = os.path.join(self.dir, "web.json")
        if web is not None:
            write_json(self.web_path, web)
        write_json(self.config_path, cfg)
        self.rm = Reachmon(reachmon_bin, self.config_path)
        self.scheme = "https" if web and "tls_server_config" in web else "http"

    def __enter__(self):
        def port():
            if self.rm.proc.poll() is not None:
                raise AssertionError(f"reachmon exited:\n{self.rm.read_log()}")
            return listen_port(self.rm.read_log())
        self.port = wait_for("reachmon to log its port", port, timeout=15)
        return self

    def __exit__(self, *exc):
        self.rm.stop()

    def url(self, path):
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"


def tls_web(pki, password_hash, **tls):
    return {"tls_server_config": {"cert_file": os.path.join(pki, "server.pem"),
                                  "key_file": os.path.join(pki, "server.key"), **tls},
            "basic_auth_users": {"prometheus": password_hash}}


def test_hash_password_makes_a_standard_bcrypt_hash(password_hash):
    assert password_hash.startswith("$2b$06$") and len(password_hash) == 60, password_hash
    assert crypt.crypt(PASSWORD, password_hash) == password_hash  # libxcrypt, independently
    assert crypt.crypt("wrong", password_hash) != password_hash


def test_hash_password_asks_twice_without_echo_on_a_terminal(reachmon_bin):
    """On a terminal (script(1) gives it one): two prompts on stderr, the password never echoed;
    from a pipe, a second line that differs is refused rather than ignored."""
    import time
    proc = subprocess.Popen(["script", "-qec", f"{reachmon_bin} hash-password --cost 4",
                             "/dev/null"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    for _ in range(2):
        time.sleep(0.5)  # typed after the prompt, as a person would
        proc.stdin.write(b"tty secret\r")
        proc.stdin.flush()
    out, _ = proc.communicate(timeout=30)
    text = out.decode()
    assert "Password:" in text and "Again:" in text, text
    assert "tty secret" not in text, text
    hashed = text.strip().splitlines()[-1].strip()
    assert crypt.crypt("tty secret", hashed) == hashed, text

    r = subprocess.run([reachmon_bin, "hash-password"], input="one\ntwo\n", capture_output=True,
                       text=True)
    assert r.returncode == 1 and "more than one line" in r.stderr and not r.stdout, r


def test_tls_and_basic_auth_with_real_curl(reachmon_bin, workdir, pki, password_hash):
    # A hash as htpasswd -B writes it ($2y$) works as well as reachmon's own ($2b$).
    web = tls_web(pki, password_hash)
    web["basic_auth_users"]["grafana"] = crypt.crypt("other", crypt.mksalt(crypt.METHOD_BLOWFISH,
                                                                           rounds=64)).replace(
                                                                               "$2b$", "$2y$")
    ca = ["--cacert", os.path.join(pki, "ca.pem")]
    auth = ["-u", f"prometheus:{PASSWORD}"]
    with Started(reachmon_bin, workdir, "tls", config({"config_file": "web.json",
                                                       "enable_reload": True}), web) as s:
        code, body, _, rc = wait_for("an HTTPS scrape", lambda: (
            r := curl(s.url("/metrics"), *ca, *auth)) and r[0] == 200 and r, timeout=15)
        assert "reachmon_build_info" in body and 'reachmon_probes_sent_total{source="lo4"' in body
        assert "metrics on https://127.0.0.1:" in s.rm.read_log()
        assert curl(s.url("/metrics"), *ca, "-u", "grafana:other")[0] == 200

        # No credentials, a wrong password, an unknown user: 401 with a Basic challenge.
        for creds in ([], ["-u", "prometheus:wrong"], ["-u", f"nobody:{PASSWORD}"]):
            code, body, headers, _ = curl(s.url("/metrics"), *ca, *creds)
            assert code == 401, (creds, code, body)
            assert "www-authenticate: basic realm=" in headers.lower(), headers
            assert "reachmon_" not in body
        for path in ("/", "/-/healthy"):
            assert curl(s.url(path), *ca)[0] == 401
            assert curl(s.url(path), *ca, *auth)[0] == 200
        assert curl(s.url("/-/healthy"), *ca, *auth, "-I")[0] == 200  # HEAD

        # The certificate is real: without our CA curl refuses it (60: peer certificate cannot
        # be authenticated); plain HTTP on the TLS port gets no HTTP answer.
        assert curl(s.url("/metrics"), *auth)[3] == 60
        plain = curl(s.url("/metrics").replace("https://", "http://"), *auth)
        assert plain[0] == 0 and plain[3] != 0, plain

        # State changes: allowed with credentials, never with an Origin header.
        code, body, _, _ = curl(s.url("/-/reload"), *ca, *auth, "-X", "POST")
        assert code == 200 and "config reloaded" in body, body
        code, body, _, _ = curl(s.url("/-/reload"), *ca, *auth, "-X", "POST",
                                "-H", "Origin: https://evil.example")
        assert code == 403 and "Origin" in body, body
        assert curl(s.url("/-/reload"), *ca, "-X", "POST")[0] == 401


def test_client_certificates_and_minimum_version(reachmon_bin, workdir, pki, password_hash):
    web = tls_web(pki, password_hash, client_auth_type="RequireAndVerifyClientCert",
                  client_ca_file=os.path.join(pki, "ca.pem"), min_version="TLS13")
    ca = ["--cacert", os.path.join(pki, "ca.pem")]
    auth = ["-u", f"prometheus:{PASSWORD}"]

    def client(name):
        return ["--cert", os.path.join(pki, f"{name}.pem"),
                "--key", os.path.join(pki, f"{name}.key")]
    with Started(reachmon_bin, workdir, "mtls", config({"config_file": "web.json"}), web) as s:
        wait_for("a scrape with a client certificate",
                 lambda: curl(s.url("/metrics"), *ca, *auth, *client("client"))[0] == 200,
                 timeout=15)
        # No client certificate, or one from a CA the server does not trust: no HTTP answer.
        for args in ([], client("rogue")):
            code, body, _, rc = curl(s.url("/metrics"), *ca, *auth, *args)
            assert code == 0 and rc != 0, (args, code, rc, body)
        # TLS 1.2 is below min_version TLS13: the handshake fails (35: TLS connect error).
        code, _, _, rc = curl(s.url("/metrics"), *ca, *auth, *client("client"), "--tls-max", "1.2")
        assert code == 0 and rc == 35, (code, rc)


def test_reload_over_http_is_off_unless_enabled(reachmon_bin, workdir):
    with Started(reachmon_bin, workdir, "lifecycle", config()) as s:
        wait_for("/-/healthy", lambda: curl(s.url("/-/healthy"))[0] == 200, timeout=15)
        code, body, _, _ = curl(s.url("/-/reload"), "-X", "POST")
        assert code == 403 and "enable_reload" in body, body
        assert "config reloaded (POST" not in s.rm.read_log()
        # Enabling it is itself a config change: the file watch applies it.
        write_json(s.config_path, config({"enable_reload": True}))
        wait_for("POST /-/reload to be enabled",
                 lambda: curl(s.url("/-/reload"), "-X", "POST")[0] == 200, timeout=20)
        code, body, _, _ = curl(s.url("/-/reload"), "-X", "POST", "-H", "Origin: null")
        assert code == 403 and "Origin" in body, body


def test_users_change_with_the_web_config_file_and_a_broken_one_changes_nothing(
        reachmon_bin, workdir, pki, password_hash):
    web = {"basic_auth_users": {"prometheus": password_hash}}
    cfg = config({"config_file": "web.json", "enable_reload": True})
    with Started(reachmon_bin, workdir, "users", cfg, web) as s:
        auth = ["-u", f"prometheus:{PASSWORD}"]
        wait_for("an authenticated scrape", lambda: curl(s.url("/metrics"), *auth)[0] == 200,
                 timeout=15)
        assert curl(s.url("/metrics"))[0] == 401

        # A broken web config file: refused with its name and the JSON path, old users stay.
        write_json(s.web_path, {"basic_auth_users": {"prometheus": "plain-text-password"}})
        code, body, _, _ = curl(s.url("/-/reload"), "-X", "POST", *auth)
        assert code == 400, body
        assert f"{s.web_path}: $.basic_auth_users.prometheus: not a bcrypt hash" in body, body
        assert "plain-text-password" not in body and "plain-text-password" not in s.rm.read_log()
        assert curl(s.url("/metrics"), *auth)[0] == 200

        # A new user replaces the old one once the file watch sees the edit.
        write_json(s.web_path, {"basic_auth_users": {"grafana": password_hash}})
        wait_for("the new user to apply",
                 lambda: curl(s.url("/metrics"), "-u", f"grafana:{PASSWORD}")[0] == 200,
                 timeout=20)
        assert curl(s.url("/metrics"), *auth)[0] == 401
        assert "basic authentication over plain HTTP: passwords cross the network in clear text" \
            in s.rm.read_log()

        # No users: open again, and the log says so.
        write_json(s.web_path, {"basic_auth_users": {}})
        wait_for("authentication to be off", lambda: curl(s.url("/metrics"))[0] == 200,
                 timeout=20)
        assert "basic authentication is now off" in s.rm.read_log()
        assert s.rm.proc.poll() is None


def test_a_key_that_does_not_match_the_certificate_is_refused_with_the_reason(
        reachmon_bin, workdir, pki, password_hash):
    d = os.path.join(workdir, "mismatch")
    os.makedirs(d, exist_ok=True)
    web = tls_web(pki, password_hash)
    web["tls_server_config"]["key_file"] = os.path.join(pki, "client.key")
    write_json(os.path.join(d, "web.json"), web)
    path = os.path.join(d, "reachmon.json")
    write_json(path, config({"config_file": "web.json"}))

    check = subprocess.run([reachmon_bin, "check-config", path], capture_output=True, text=True)
    assert check.returncode == 1, check.stdout + check.stderr
    assert "does not match the certificate" in check.stderr, check.stderr

    run = subprocess.run([reachmon_bin, "run", "--config", path], capture_output=True, text=True,
                         timeout=30)
    assert run.returncode != 0
    assert "does not match the certificate" in run.stdout + run.stderr, run.stdout + run.stderr

    # An encrypted key: refused with the reason, never a passphrase prompt (stdin is a pipe here,
    # a terminal for an operator; the timeout catches a prompt either way).
    openssl("pkey", "-in", "server.key", "-aes256", "-passout", "pass:secret", "-out",
            "server-encrypted.key", cwd=pki)
    web["tls_server_config"]["key_file"] = os.path.join(pki, "server-encrypted.key")
    write_json(os.path.join(d, "web.json"), web)
    check = subprocess.run([reachmon_bin, "check-config", path], capture_output=True, text=True,
                           stdin=subprocess.PIPE, timeout=30)
    assert check.returncode == 1, check.stdout + check.stderr
    assert "server-encrypted.key is encrypted: reachmon needs it unencrypted" in check.stderr, \
        check.stderr
    assert "pass phrase" not in check.stdout + check.stderr

    web["tls_server_config"]["key_file"] = os.path.join(pki, "server.key")
    write_json(os.path.join(d, "web.json"), web)
    check = subprocess.run([reachmon_bin, "check-config", path], capture_output=True, text=True)
    assert check.returncode == 0 and "HTTPS, 1 basic auth user(s)" in check.stdout, \
        check.stdout + check.stderr
    assert "warning" not in check.stderr, check.stderr

    # Certificates that load but that clients refuse: warnings, not errors.
    make_dated_cert(pki, "server", "ca", "20200101000000Z", "20200102000000Z")
    for cert, key, warning in (("server-dated.pem", "server.key", "has expired"),
                               ("ca.pem", "ca.key", "is a CA certificate")):
        web["tls_server_config"].update(cert_file=os.path.join(pki, cert),
                                        key_file=os.path.join(pki, key))
        write_json(os.path.join(d, "web.json"), web)
        check = subprocess.run([reachmon_bin, "check-config", path], capture_output=True,
                               text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        assert f"warning: the certificate {os.path.join(pki, cert)} {warning}" in check.stderr, \
            check.stderr


def test_the_certificate_file_names_in_errors_are_the_web_config_files(reachmon_bin, workdir,
                                                                       pki, password_hash):
    d = os.path.join(workdir, "missing")
    os.makedirs(d, exist_ok=True)
    web = tls_web(pki, password_hash)
    web["tls_server_config"]["cert_file"] = "nowhere.pem"
    write_json(os.path.join(d, "web.json"), web)
    path = os.path.join(d, "reachmon.json")
    write_json(path, config({"config_file": "web.json"}))
    check = subprocess.run([reachmon_bin, "check-config", path], capture_output=True, text=True)
    assert check.returncode == 1
    assert (f"$.web.config_file: {d}/web.json: $.tls_server_config.cert_file: cannot read "
            f"{d}/nowhere.pem: No such file or directory") in check.stderr, check.stderr
    assert read_text(path)  # nothing rewrote the config


def test_a_flood_of_wrong_passwords_does_not_hold_up_a_known_scraper(reachmon_bin, workdir,
                                                                     password_hash):
    """bcrypt is slow on purpose. Credentials that matched once are remembered, so a scraper
    whose password was checked once is answered without waiting behind the attackers' hashes."""
    import threading
    import time
    import urllib.error
    import urllib.request
    slow = subprocess.run([reachmon_bin, "hash-password", "--cost", "13"], input=PASSWORD + "\n",
                          capture_output=True, text=True, check=True).stdout.strip()
    web = {"basic_auth_users": {"prometheus": slow}}
    with Started(reachmon_bin, workdir, "flood", config({"config_file": "web.json"}), web) as s:
        auth = ["-u", f"prometheus:{PASSWORD}"]
        wait_for("an authenticated scrape", lambda: curl(s.url("/metrics"), *auth)[0] == 200,
                 timeout=30)
        # Ground truth: how long one bcrypt check of this cost takes here, now.
        start = time.monotonic()
        assert curl(s.url("/-/healthy"), "-u", "prometheus:wrong")[0] == 401
        one_check = time.monotonic() - start

        stop = threading.Event()
        statuses = []

        def attacker():
            req = urllib.request.Request(s.url("/-/healthy"),
                                         headers={"Authorization": "Basic YXR0YWNrZXI6eA=="})
            while not stop.is_set():
                try:
                    urllib.request.urlopen(req, timeout=30)
                except urllib.error.HTTPError as e:
                    statuses.append(e.code)
                except OSError:
                    pass
        attackers = [threading.Thread(target=attacker, daemon=True) for _ in range(24)]
        for t in attackers:
            t.start()
        try:
            wait_for("the flood to be refused", lambda: len(statuses) >= 4, timeout=60)
            times = []
            for _ in range(5):
                start = time.monotonic()
                code, body, _, _ = curl(s.url("/metrics"), *auth)
                times.append(time.monotonic() - start)
                assert code == 200 and "reachmon_build_info" in body, (code, body[:200])
        finally:
            stop.set()
            for t in attackers:
                t.join(timeout=60)
        # 24 attackers queue 12 hashes per check slot: without the memory of good credentials a
        # scrape waits for several checks; with it, for none.
        print(f"scrapes under the flood: {times}; one bcrypt check: {one_check:.3f} s")
        assert sorted(times)[2] < one_check, (times, one_check)
        assert set(statuses) <= {401, 503}, set(statuses)
        assert s.rm.proc.poll() is None
