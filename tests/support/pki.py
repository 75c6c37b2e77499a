"""Certificates for the TLS tests, made with the openssl command: a CA, and keys with
certificates it signs. Standard library only."""
import os
import subprocess


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca(d, name):
    """{d}/{name}.key and the self-signed {d}/{name}.pem."""
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2", "-subj", f"/CN={name}",
            cwd=d)


def make_cert(d, name, ca, ext):
    """{d}/{name}.key and {d}/{name}.pem signed by the CA `ca`, with the extension lines `ext`."""
    with open(os.path.join(d, f"{name}.ext"), "w") as f:
        f.write(ext)
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=d)
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
            "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext",
            cwd=d)


def make_dated_cert(d, name, ca, start, end):
    """{d}/{name}.pem for the key of the existing {d}/{name}.csr, signed by `ca`, valid from
    `start` to `end` (YYYYMMDDHHMMSSZ): `openssl ca`, since `x509 -req` only counts days from
    now."""
    with open(os.path.join(d, f"{name}-ca.cnf"), "w") as f:
        f.write(f"[ca]\ndefault_ca = c\n[c]\ndatabase = {name}-index.txt\nnew_certs_dir = .\n"
                f"certificate = {ca}.pem\nprivate_key = {ca}.key\ndefault_md = sha256\n"
                f"serial = {name}-serial\npolicy = p\n[p]\ncommonName = supplied\n")
    open(os.path.join(d, f"{name}-index.txt"), "w").close()
    with open(os.path.join(d, f"{name}-serial"), "w") as f:
        f.write("1000\n")
    openssl("ca", "-batch", "-notext", "-config", f"{name}-ca.cnf", "-in", f"{name}.csr",
            "-out", f"{name}-dated.pem", "-startdate", start, "-enddate", end, cwd=d)


SERVER_EXT = "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"
CLIENT_EXT = "extendedKeyUsage=clientAuth\n"


def curl(url, *args):
    """(HTTP status or 0, body, response headers, curl's exit code) of one request."""
    r = subprocess.run(["curl", "-sS", "--max-time", "10", "-D", "-", "-o", "/dev/stderr",
                        "-w", "\n%{http_code}", *args, url], capture_output=True, text=True)
    headers, _, code = r.stdout.rpartition("\n")
    return int(code or 0), r.stderr, headers, r.returncode
