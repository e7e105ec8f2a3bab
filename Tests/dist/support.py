"""Helpers for the distribution tests: the certstore binary, throwaway PKIs made with the openssl CLI, and the
KB 4495258 machine (the Python twin of Tests/EndToEndTests/Support/KBMachine.swift)."""

import hashlib
import json
import os
import shutil
import socket
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CONNECTOR = "Outbound to Office 365"
CA_SUBJECT = "/C=US/O=Contoso Ltd/CN=Contoso Issuing CA 1"
CA_NAME = "CN=Contoso Issuing CA 1, O=Contoso Ltd, C=US"
MAIL_SUBJECT = "/C=US/ST=Washington/L=Redmond/O=Contoso Ltd/CN=mail.contoso.com"
MAIL_NAME = "CN=mail.contoso.com, O=Contoso Ltd, L=Redmond, S=Washington, C=US"


def certstore_binary():
    """$CERTSTORE_BIN, else the debug build `make test` (swift test) has just made."""
    explicit = os.environ.get("CERTSTORE_BIN")
    if explicit:
        return explicit
    for candidate in (REPO / ".build/debug/certstore", REPO / ".build/release/certstore"):
        if os.access(candidate, os.X_OK):
            return str(candidate)
    raise RuntimeError("no certstore binary: run `swift build` first, or set CERTSTORE_BIN")


def require_tool(name, hint="make dist-deps installs it"):
    path = shutil.which(name)
    if not path:
        raise RuntimeError(f"{name} is not installed ({hint})")
    return path


def run(args, *, ok=(0,), input=None, env=None, cwd=None, timeout=120):
    result = subprocess.run([str(a) for a in args], input=input, capture_output=True, text=True, env=env, cwd=cwd,
                            timeout=timeout)
    if result.returncode not in ok:
        raise AssertionError(f"{' '.join(map(str, args))} exited {result.returncode}\n"
                             f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}")
    return result


def certstore(root, *args, ok=(0,), input=None):
    return run([certstore_binary(), *args, "--root", root], ok=ok, input=input)


def certstore_json(root, *args, ok=(0,)):
    return json.loads(certstore(root, *args, "--format", "json", ok=ok).stdout)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def thumbprint(der):
    return hashlib.sha1(der).hexdigest().upper()


class PKI:
    """A CA and certificates made with the openssl CLI in `directory`; thumbprints computed from the DER."""

    def __init__(self, directory):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "ca.key")
        self.openssl("req", "-x509", "-new", "-key", "ca.key", "-out", "ca.pem", "-days", "3650", "-subj", CA_SUBJECT,
                     "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        self.ca = self.describe("ca")

    def openssl(self, *args):
        return run(["openssl", *args], cwd=self.dir)

    def describe(self, name):
        self.openssl("x509", "-in", f"{name}.pem", "-outform", "DER", "-out", f"{name}.cer")
        return {"name": name, "pem": self.dir / f"{name}.pem", "key": self.dir / f"{name}.key",
                "cer": self.dir / f"{name}.cer", "thumbprint": thumbprint((self.dir / f"{name}.cer").read_bytes())}

    def issue(self, name, subject, days=365, dns=(), self_signed=False):
        self.openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", f"{name}.key")
        self.openssl("req", "-new", "-key", f"{name}.key", "-out", f"{name}.csr", "-subj", subject)
        ext = "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
        if dns:
            ext += "subjectAltName=" + ",".join(f"DNS:{d}" for d in dns) + "\n"
        (self.dir / f"{name}.ext").write_text(ext)
        if self_signed:
            self.openssl("x509", "-req", "-in", f"{name}.csr", "-signkey", f"{name}.key", "-days", str(days),
                         "-extfile", f"{name}.ext", "-out", f"{name}.pem")
        else:
            self.openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                         "-days", str(days), "-extfile", f"{name}.ext", "-out", f"{name}.pem")
        return self.describe(name)

    def with_key(self, cert):
        out = self.dir / f"{cert['name']}-with-key.pem"
        out.write_bytes(cert["pem"].read_bytes() + cert["key"].read_bytes())
        return out

    def pfx(self, cert, password=""):
        out = self.dir / f"{cert['name']}.pfx"
        self.openssl("pkcs12", "-export", "-in", cert["pem"], "-inkey", cert["key"], "-certfile", "ca.pem",
                     "-out", out, "-passout", f"pass:{password}")
        return out


class KBMachine:
    """The KB 4495258 mail server: CA in Root; EXCH01 (self-signed, keyed) bound to SMTP, IIS, IMAP, POP and the
    default SMTP certificate; mail.contoso.com imported as a bare .cer (no key); the send connector "Outbound to
    Office 365" whose TLSCertificateName resolves to that keyless certificate. `twin` is the renewal, not imported.
    Several machines can share one PKI (a fleet with the same renewal)."""

    def __init__(self, root, pki, certs, keyless=True):
        self.root = Path(root)
        self.pki = pki
        self.exch01, self.keyless, self.twin = certs["exch01"], certs["keyless"], certs["twin"]
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o755)
        certstore(self.root, "import", pki.ca["pem"], "--store", "LocalMachine/Root")
        certstore(self.root, "import", pki.with_key(self.exch01))
        if keyless:
            # On purpose: the KB machine's keyless certificate (certstore refuses it without --allow-keyless).
            certstore(self.root, "import", self.keyless["cer"], "--allow-keyless")
        certstore(self.root, "enable", self.exch01["thumbprint"], "--services", "SMTP,IIS,IMAP,POP")
        certstore(self.root, "connector", "add", CONNECTOR, "--tls-certificate-name", f"<I>{CA_NAME}<S>{MAIL_NAME}")

    @staticmethod
    def certificates(pki):
        return {"exch01": pki.issue("exch01", "/CN=EXCH01", days=1825, dns=("EXCH01",), self_signed=True),
                "keyless": pki.issue("mail-old", MAIL_SUBJECT, dns=("mail.contoso.com",)),
                "twin": pki.issue("mail-new", MAIL_SUBJECT, dns=("mail.contoso.com",))}

    def audit(self):
        return certstore_json(self.root, "audit", ok=(0, 1, 2, 3))

    def fix(self):
        """The KB's fix as certstore commands: import the renewal, remove the keyless twin, bind SMTP (keep default)."""
        certstore(self.root, "import", self.pki.pfx(self.twin))
        certstore(self.root, "remove", self.keyless["thumbprint"])
        certstore(self.root, "enable", self.twin["thumbprint"], "--services", "SMTP", "--keep-default")


def snapshot(root):
    """Every path under root with its mode and bytes (symbolic links by target)."""
    state = {}
    for path in sorted(Path(root).rglob("*")):
        st = path.lstat()
        rel = str(path.relative_to(root))
        if path.is_symlink():
            state[rel] = ("link", os.readlink(path))
        elif path.is_dir():
            state[rel] = ("dir", oct(st.st_mode & 0o7777))
        else:
            state[rel] = ("file", oct(st.st_mode & 0o7777), hashlib.sha256(path.read_bytes()).hexdigest())
    return state
