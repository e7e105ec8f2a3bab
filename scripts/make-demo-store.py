#!/usr/bin/env python3
"""Rebuild the demo machine store in Stores/ (Contoso, with DEMO keys that protect nothing).

usage: scripts/make-demo-store.py [CERTSTORE_BINARY]

Makes the certificates with pyca/cryptography (fixed validity dates, fresh keys), then imports
them with certstore itself, so the committed store is exactly what certstore writes. It reproduces
Microsoft KB 4495258: a CA-issued mail.contoso.com certificate whose private key is gone, its
renewed twin with a key, a self-signed server certificate, and the issuing CA in Root.
"""
import datetime, hashlib, os, shutil, subprocess, sys, tempfile
from cryptography import x509
from cryptography.x509.oid import NameOID, ExtendedKeyUsageOID
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa, ec

repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
binary = sys.argv[1] if len(sys.argv) > 1 else os.path.join(repo, ".build", "debug", "certstore")
stores = os.path.join(repo, "Stores")
utc = datetime.timezone.utc


def name(*parts):
    oids = {"C": NameOID.COUNTRY_NAME, "S": NameOID.STATE_OR_PROVINCE_NAME, "L": NameOID.LOCALITY_NAME,
            "O": NameOID.ORGANIZATION_NAME, "OU": NameOID.ORGANIZATIONAL_UNIT_NAME, "CN": NameOID.COMMON_NAME}
    return x509.Name([x509.NameAttribute(oids[k], v) for k, v in parts])


def build(subject, issuer, key, signer, serial, start, end, sans=(), ca=False, eku=True):
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
         .serial_number(serial).not_valid_before(start).not_valid_after(end)
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
    if ca:
        b = b.add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
    else:
        b = b.add_extension(x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True)
    if eku:
        b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(s) for s in sans]), critical=False)
    if signer is not key:
        b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), critical=False)
    return b.sign(signer, hashes.SHA256())


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def certstore(*args):
    subprocess.run([binary, "--root", stores, *args], check=True)


def main():
    work = tempfile.mkdtemp(prefix="demo-store-")
    ca_key = ec.generate_private_key(ec.SECP384R1())
    ca_name = name(("C", "US"), ("O", "Contoso Ltd"), ("CN", "Contoso Issuing CA 1"))
    ca = build(ca_name, ca_name, ca_key, ca_key, 0x1001, datetime.datetime(2020, 1, 1, tzinfo=utc),
               datetime.datetime(2035, 1, 1, tzinfo=utc), ca=True, eku=False)
    mail = name(("C", "US"), ("S", "Washington"), ("L", "Redmond"), ("O", "Contoso Ltd"), ("CN", "mail.contoso.com"))
    sans = ("mail.contoso.com", "autodiscover.contoso.com")
    old_key = rsa.generate_private_key(65537, 2048)
    old = build(mail, ca_name, old_key, ca_key, 0x0A1B2C3D4E5F6071, datetime.datetime(2025, 12, 15, tzinfo=utc),
                datetime.datetime(2026, 12, 20, tzinfo=utc), sans)
    new_key = rsa.generate_private_key(65537, 2048)
    new = build(mail, ca_name, new_key, ca_key, 0x0A1B2C3D4E5F6072, datetime.datetime(2026, 11, 15, tzinfo=utc),
                datetime.datetime(2027, 12, 15, tzinfo=utc), sans)
    exch_key = rsa.generate_private_key(65537, 2048)
    exch_name = name(("CN", "EXCH01"))
    exch = build(exch_name, exch_name, exch_key, exch_key, 0x5E1F, datetime.datetime(2024, 6, 1, tzinfo=utc),
                 datetime.datetime(2029, 6, 1, tzinfo=utc), ("EXCH01", "EXCH01.contoso.local"))

    write(os.path.join(work, "contoso-issuing-ca.pem"), pem(ca))
    write(os.path.join(work, "mail-2025.cer"), old.public_bytes(serialization.Encoding.DER))  # the keyless one
    write(os.path.join(work, "mail-2026.pem"), pem(new) + key_pem(new_key))
    write(os.path.join(work, "exch01-selfsigned.pem"), pem(exch) + key_pem(exch_key))

    shutil.rmtree(stores, ignore_errors=True)
    os.makedirs(stores)
    certstore("import", os.path.join(work, "contoso-issuing-ca.pem"), "--store", "LocalMachine/Root",
              "--friendly-name", "DEMO Contoso Issuing CA 1")
    certstore("import", os.path.join(work, "exch01-selfsigned.pem"), "--friendly-name", "DEMO Microsoft Exchange")
    # The KB 4495258 certificate, keyless on purpose (certstore refuses it without --allow-keyless).
    certstore("import", os.path.join(work, "mail-2025.cer"), "--friendly-name", "DEMO mail.contoso.com 2025", "--allow-keyless")
    certstore("import", os.path.join(work, "mail-2026.pem"), "--friendly-name", "DEMO mail.contoso.com 2026", "--exportable")
    exch_thumb = hashlib.sha1(exch.public_bytes(serialization.Encoding.DER)).hexdigest().upper()
    certstore("enable", exch_thumb, "--services", "SMTP,IIS,IMAP,POP")
    # What admins paste into Set-SendConnector: "<I>$($cert.Issuer)<S>$($cert.Subject)"
    certstore("connector", "add", "Outbound to Office 365", "--fqdn", "mail.contoso.com",
              "--tls-certificate-name", "<I>CN=Contoso Issuing CA 1, O=Contoso Ltd, C=US"
              "<S>CN=mail.contoso.com, O=Contoso Ltd, L=Redmond, S=Washington, C=US")
    shutil.rmtree(work)
    write_protocol_log(old, new)
    with open(os.path.join(stores, "README.md"), "w") as f:
        f.write("""# Demo store (not for production)

This is certstore's embedded default store: a fictitious Contoso mail server that reproduces
Microsoft KB 4495258. Every private key under `LocalMachine/Keys/` is a DEMO key, generated by
`scripts/make-demo-store.py`, published in this repository, and protects nothing.

- `LocalMachine/Root`: Contoso Issuing CA 1 (the issuer of both mail.contoso.com certificates)
- `LocalMachine/My`: EXCH01 (self-signed, with key; bound to SMTP, IIS, IMAP, POP; the default SMTP
  certificate), mail.contoso.com 2025 (**private key missing**), mail.contoso.com 2026 (the renewed
  twin, with key, exportable, not yet bound)
- `Services/<SERVICE>/current/`: the files a daemon reads for each bound service (certstore keeps them
  in step with the bindings; `certstore service-config postfix` prints the lines that point postfix there)
- `connectors.json`: the send connector "Outbound to Office 365", whose TLSCertificateName names
  mail.contoso.com by issuer and subject, so it resolves to the keyless 2025 certificate (imported
  first): outbound TLS fails with NoCredentials until the keyless twin is removed.

Run certstore from the repository root and it uses this store (`./Stores`) by default.
""")


def write_protocol_log(old, new):
    """An Exchange SMTP send protocol log in which the connector presents the keyless 2025 certificate."""
    folder = os.path.join(repo, "examples", "logs", "SmtpSend")
    os.makedirs(folder, exist_ok=True)
    subject = "CN=mail.contoso.com, O=Contoso Ltd, L=Redmond, S=Washington, C=US"
    issuer = "CN=Contoso Issuing CA 1, O=Contoso Ltd, C=US"
    thumb = hashlib.sha1(old.public_bytes(serialization.Encoding.DER)).hexdigest().upper()
    serial = format(old.serial_number, "X")  # .NET shows the INTEGER's content octets
    serial = ("0" if len(serial) % 2 else "") + serial
    serial = ("00" if int(serial[0], 16) >= 8 else "") + serial
    lines = ["#Software: Microsoft Exchange Server", "#Version: 15.0.0.0", "#Log-type: SMTP Send Protocol Log",
             "#Date: 2026-11-28T09:00:02.511Z",
             "#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,event,data,context"]
    for n, (session, minute) in enumerate([("08DE2F1A9C3B7701", "14"), ("08DE2F1A9C3B7702", "19"), ("08DE2F1A9C3B7703", "24")]):
        t = f"2026-11-28T09:{minute}:45"
        port = 28252 + n
        rows = [
            (".039Z", "*", "SendRoutingHeaders", "Set Session Permissions"),
            (".039Z", "*", "", "attempting to connect"),
            (".040Z", "+", "", ""),
            (".196Z", "<", '"220 contoso-com.mail.protection.outlook.com Microsoft ESMTP MAIL Service ready at Sat, 28 Nov 2026 09:%s:44 +0000"' % minute, ""),
            (".196Z", ">", "EHLO mail.contoso.com", ""),
            (".235Z", "<", "250-contoso-com.mail.protection.outlook.com Hello [198.51.100.10]", ""),
            (".235Z", "<", "250-SIZE 157286400", ""),
            (".235Z", "<", "250-PIPELINING", ""),
            (".235Z", "<", "250-STARTTLS", ""),
            (".235Z", "<", "250 CHUNKING", ""),
            (".236Z", ">", "STARTTLS", ""),
            (".274Z", "<", "220 2.0.0 SMTP server ready", ""),
            (".274Z", "*", "", "Sending certificate"),
            (".274Z", "*", '"%s"' % subject, "Certificate subject"),
            (".274Z", "*", '"%s"' % issuer, "Certificate issuer name"),
            (".274Z", "*", serial, "Certificate serial number"),
            (".274Z", "*", thumb, "Certificate thumbprint"),
            (".274Z", "*", "mail.contoso.com;autodiscover.contoso.com", "Certificate alternate names"),
            (".275Z", "*", "", "TLS negotiation failed with error NoCredentials"),
            (".276Z", "-", "", "Local"),
        ]
        for seq, (ms, event, data, context) in enumerate(rows):
            local = "" if seq < 2 else f"192.168.0.78:{port}"
            lines.append(f"{t}{ms},Outbound to Office 365,{session},{seq},{local},104.47.2.36:25,{event},{data},{context}")
    with open(os.path.join(folder, "SEND20261128-1.log"), "w", newline="\r\n") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
