"""TLS for the network: self-signed certificates, server and client contexts.

The Manager makes its own key and certificate on first start (SAN: this
host's name, ``localhost``, ``127.0.0.1`` and ``::1``) and serves TLS >= 1.2.
A client trusts a Manager one of two ways, never by prompting:

- ``cert_file``: a CA/certificate file (the Manager's own ``.crt`` copied over);
  ``assert_hostname`` decides whether the name in it must match ``host``;
- ``fingerprint``: the SHA-256 of the Manager's certificate, pinned (as
  ``tether network certdump`` prints it); names are not checked then.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import ipaddress
import os
import socket
import ssl
from pathlib import Path
from typing import TYPE_CHECKING

from ..exceptions import CertificateError

if TYPE_CHECKING:  # cryptography is imported where keys are made or read (clients never need it: ~55 ms)
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec

#: where the Manager keeps its key, certificate and database unless told otherwise
HOME = Path(os.environ.get("TETHER_NETWORK_HOME", Path.home() / ".tether" / "network"))


def default_key_path(host: str | None = None) -> Path:
    return HOME / "keys" / f"{host or socket.gethostname()}.key"


def default_cert_path(host: str | None = None) -> Path:
    return HOME / "certs" / f"{host or socket.gethostname()}.crt"


def generate_key(path: str | os.PathLike, password: str | None = None) -> Path:
    """A new P-256 private key in PEM at ``path`` (mode 0600), encrypted if ``password``."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password.encode()) if password
        else serialization.NoEncryption())
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return path


def load_key(path: str | os.PathLike, password: str | None = None) -> ec.EllipticCurvePrivateKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = serialization.load_pem_private_key(Path(path).read_bytes(), password.encode() if password else None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise CertificateError(f"{path} is not an elliptic-curve key")
    return key


def generate_certificate(path: str | os.PathLike, key_path: str | os.PathLike,
                         key_password: str | None = None, names: list[str] | None = None,
                         days: int = 3650) -> Path:
    """A self-signed certificate for the key, valid for ``names`` (default: this host)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    key = load_key(key_path, key_password)
    hostname = socket.gethostname()
    names = names or [hostname, "localhost", "127.0.0.1", "::1"]
    alt: list[x509.GeneralName] = []
    for name in dict.fromkeys(names):
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt.append(x509.DNSName(name))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def fingerprint(cert: bytes | x509.Certificate) -> str:
    """SHA-256 of a certificate's DER bytes as ``AB:CD:...`` (what ``certdump`` prints)."""
    if isinstance(cert, (bytes, bytearray)):
        der = bytes(cert)
    else:
        from cryptography.hazmat.primitives import serialization

        der = cert.public_bytes(serialization.Encoding.DER)
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def load_certificate(path: str | os.PathLike) -> x509.Certificate:
    from cryptography import x509

    return x509.load_pem_x509_certificate(Path(path).read_bytes())


def describe(path: str | os.PathLike) -> str:
    """A readable summary of a certificate file: subject, names, validity, fingerprint."""
    from cryptography import x509

    cert = load_certificate(path)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [str(n.value) for n in san]
    except x509.ExtensionNotFound:
        names = []
    return "\n".join([
        f"Subject:     {cert.subject.rfc4514_string()}",
        f"Issuer:      {cert.issuer.rfc4514_string()}",
        f"Names:       {', '.join(names)}",
        f"Valid from:  {cert.not_valid_before_utc:%Y-%m-%d %H:%M:%S} UTC",
        f"Valid until: {cert.not_valid_after_utc:%Y-%m-%d %H:%M:%S} UTC",
        f"SHA-256:     {fingerprint(cert)}",
    ])


def ensure_server_files(host: str | None = None, cert_file: str | None = None,
                        key_file: str | None = None, key_password: str | None = None) -> tuple[Path, Path | None]:
    """The Manager's certificate and key, generated on first use when neither is given."""
    if cert_file is None and key_file is None:
        key, cert = default_key_path(host), default_cert_path(host)
        if not key.is_file():
            generate_key(key, key_password)
            cert.unlink(missing_ok=True)  # a new key needs a new certificate
        if not cert.is_file():
            names = [host] if host and host not in ("", "0.0.0.0", "::") else None
            if names:
                names += [socket.gethostname(), "localhost", "127.0.0.1", "::1"]
            generate_certificate(cert, key, key_password, names)
        return cert, key
    if cert_file is None:
        assert key_file is not None
        cert = Path(key_file).with_suffix(".crt")
        if not cert.is_file():
            generate_certificate(cert, key_file, key_password)
        return cert, Path(key_file)
    return Path(cert_file), Path(key_file) if key_file else None


def server_context(cert_file: str | os.PathLike, key_file: str | os.PathLike | None = None,
                   key_password: str | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(cert_file), str(key_file) if key_file else None, key_password)
    return context


def client_context(cert_file: str | os.PathLike | None = None, assert_hostname: bool = True,
                   fingerprint_pin: str | None = None) -> ssl.SSLContext:
    """How a client checks the Manager: a CA file, a pinned fingerprint, or the system store."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if fingerprint_pin:
        # the pin replaces chain and name checks; verify_pinned() runs after the handshake
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if cert_file is not None:
        path = Path(cert_file).expanduser()
        if not path.is_file():
            raise CertificateError(f"cert_file does not exist: {cert_file}")
        context.load_verify_locations(cafile=str(path))
    context.check_hostname = assert_hostname
    return context


def verify_pinned(der: bytes | None, pin: str) -> None:
    """Compare the peer's certificate with a pinned SHA-256 fingerprint (any separator/case)."""
    want = pin.replace(":", "").replace(" ", "").lower()
    got = hashlib.sha256(der or b"").hexdigest()
    if not der or not hmac.compare_digest(want, got):
        raise CertificateError(
            f"the Manager's certificate fingerprint {fingerprint(der or b'')} does not match the pinned {pin}")
