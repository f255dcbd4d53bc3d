"""Certificates for the TLS tests, made with the `openssl` command in a directory of the test's.

    certs = make_certs(tmpdir)          # every certificate below, in about a second
    certs.leaf.cert, certs.leaf.key     # PEM paths
    certs.ca.cert                       # what --ca-file trusts

Each is an EC P-256 key and a certificate (SHA-256 signatures):

    ca             the test CA (CA:TRUE, keyCertSign)
    leaf           localhost, 127.0.0.1 and ::1, valid from a day ago for 365 days
    expired        localhost, 127.0.0.1: ended 3 days and an hour ago ("expired 3 days ago")
    not_yet_valid  localhost, 127.0.0.1: begins in 5 days and an hour
    short_lived    localhost, 127.0.0.1: 10 days (and an hour) left, for --cert-min-days
    other_name     other.example only (the name check fails for localhost and 127.0.0.1)
    self_signed    localhost, 127.0.0.1, signed by itself (not by the CA)
    client_ca      a second CA, the one servers trust for client certificates
    client         a client certificate (clientAuth) signed by client_ca

The server certificates are signed by `ca` (except self_signed) with `openssl ca`, which is
how OpenSSL 3.0's command line sets dates in the past or the future: -startdate / -enddate
(YYYYMMDDHHMMSSZ) with a minimal config of its own; `openssl x509 -req` only has -days.
Keys are written readable by all (0644): nginx workers run as nobody, and these are test keys
in a temporary directory.
"""

import collections
import datetime
import os
import subprocess

Pair = collections.namedtuple("Pair", "cert key")

Certs = collections.namedtuple(
    "Certs", "dir ca leaf expired not_yet_valid short_lived other_name self_signed client_ca client")

_CA_CONFIG = """\
[req]
distinguished_name = req_dn

[req_dn]

[ca]
default_ca = test_ca

[test_ca]
dir = {dir}
database = {dir}/index.txt
new_certs_dir = {dir}/issued
serial = {dir}/serial
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
email_in_dn = no

[anything]
commonName = supplied
organizationName = optional

[server]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = $ENV::TLS_CERTS_SAN

[client]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
"""

LOCAL_NAMES = "DNS:localhost,IP:127.0.0.1,IP:::1"


def _openssl(*args, env=None):
    # The config names $ENV::TLS_CERTS_SAN, which must be set whenever it is read.
    env = env or dict(os.environ, TLS_CERTS_SAN="DNS:unused.invalid")
    r = subprocess.run(["openssl", *args], capture_output=True, text=True, env=env, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed ({r.returncode}): {r.stderr.strip()}")
    return r.stdout


def asn1_time(when):
    """A datetime (UTC) as openssl ca -startdate/-enddate takes it: YYYYMMDDHHMMSSZ."""
    return when.astimezone(datetime.timezone.utc).strftime("%Y%m%d%H%M%SZ")


class _Factory:
    def __init__(self, directory):
        self.dir = os.path.abspath(directory)
        os.makedirs(os.path.join(self.dir, "issued"), exist_ok=True)
        os.chmod(self.dir, 0o755)
        self.config = os.path.join(self.dir, "ca.cnf")
        with open(self.config, "w") as f:
            f.write(_CA_CONFIG.format(dir=self.dir))
        open(os.path.join(self.dir, "index.txt"), "w").close()
        with open(os.path.join(self.dir, "serial"), "w") as f:
            f.write("1000\n")
        self.now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)

    def path(self, name, ext):
        return os.path.join(self.dir, f"{name}.{ext}")

    def key(self, name):
        key = self.path(name, "key")
        _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                 "-out", key)
        os.chmod(key, 0o644)
        return key

    def ca(self, name, cn):
        key = self.key(name)
        cert = self.path(name, "crt")
        _openssl("req", "-new", "-x509", "-key", key, "-out", cert, "-days", "3650",
                 "-subj", f"/O=tcpretry test/CN={cn}", "-config", self.config,
                 "-extensions", "ca_ext", "-sha256")
        return Pair(cert, key)

    def issue(self, name, cn, issuer, start, end, extensions="server", san=LOCAL_NAMES,
              self_signed=False):
        """A certificate for a new key, valid from start to end (datetimes), signed by issuer
        (a Pair) or by its own key."""
        key = self.key(name)
        csr = self.path(name, "csr")
        cert = self.path(name, "crt")
        _openssl("req", "-new", "-key", key, "-out", csr, "-subj", f"/O=tcpretry test/CN={cn}",
                 "-config", self.config)
        env = dict(os.environ, TLS_CERTS_SAN=san or "DNS:unused.invalid")
        args = ["ca", "-batch", "-notext", "-config", self.config, "-in", csr, "-out", cert,
                "-startdate", asn1_time(start), "-enddate", asn1_time(end),
                "-extensions", extensions]
        if self_signed:
            args += ["-selfsign", "-keyfile", key]
        else:
            args += ["-cert", issuer.cert, "-keyfile", issuer.key]
        _openssl(*args, env=env)
        return Pair(cert, key)


def make_certs(directory):
    """Makes every certificate of the module docstring in directory; returns a Certs."""
    f = _Factory(directory)
    now = f.now
    day = datetime.timedelta(days=1)
    hour = datetime.timedelta(hours=1)
    ca = f.ca("ca", "tcpretry test CA")
    client_ca = f.ca("client_ca", "tcpretry test client CA")
    return Certs(
        dir=f.dir,
        ca=ca,
        leaf=f.issue("leaf", "localhost", ca, now - day, now + 365 * day),
        expired=f.issue("expired", "localhost", ca, now - 30 * day, now - 3 * day - hour),
        not_yet_valid=f.issue("not_yet_valid", "localhost", ca, now + 5 * day + hour,
                              now + 30 * day),
        short_lived=f.issue("short_lived", "localhost", ca, now - day, now + 10 * day + hour),
        other_name=f.issue("other_name", "other.example", ca, now - day, now + 365 * day,
                           san="DNS:other.example"),
        self_signed=f.issue("self_signed", "localhost", None, now - day, now + 365 * day,
                            self_signed=True),
        client_ca=client_ca,
        client=f.issue("client", "tcpretry test client", client_ca, now - day, now + 365 * day,
                       extensions="client", san=None),
    )
