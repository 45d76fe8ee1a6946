"""A self-signed certificate made on the spot: what a managed server serves HTTPS with under
`target.tls: {self_signed: true}`, and what the TLS tests and benchmark use (nothing on a test
machine may reach a real CA). The `cryptography` package makes it: Python's ssl module can load
certificates but not make them."""

from __future__ import annotations

import datetime
import ipaddress
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

NAMES = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]  # where a managed server listens
VALID_FOR = datetime.timedelta(days=7)  # a soak's length, with room; a run's certificate is never reused
CLOCK_SLACK = datetime.timedelta(minutes=5)  # valid a little before now: a peer's clock may lag


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate naming 127.0.0.1 and localhost (in its subjectAltName, which hostname checks
    read), its own CA, and its key, written to `folder` as cert.pem and key.pem (owner-only)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "slogate run")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - CLOCK_SLACK)
        .not_valid_after(now + VALID_FOR)
        .add_extension(x509.SubjectAlternativeName(NAMES), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_bytes = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption())
    with os.fdopen(os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as handle:
        handle.write(key_bytes)
    return cert_path, key_path
