"""A small certificate authority of our own: make one, issue a server certificate for names and IPs, write PEMs.

For TLS that no public CA serves: Pebble's own HTTPS port, the region hub's link, the benchmark's
certificate and the tests' chains (good, expired, misnamed on purpose). The certificates follow
the web PKI's rules that :func:`services.tls.certificate.check` applies (key usages, key
identifiers, serverAuth), so a chain made here passes where a real one would. The public CA the
simulated phones trust is Pebble's, not this.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .certificate import key_pem

# Valid from a little before now: a clock a minute behind (another container, a VM) still accepts it.
BACKDATE = timedelta(hours=1)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _alternative(name: str) -> x509.GeneralName:
    """An IP address where ``name`` is one, else a DNS name."""
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


@dataclass(frozen=True)
class _Signed:
    """A certificate and its key, each as PEM too."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return key_pem(self.key)


@dataclass(frozen=True)
class Leaf(_Signed):
    """A server certificate and its key."""

    def write(self, folder: Path, stem: str = "leaf") -> tuple[Path, Path]:
        """``stem``.pem and ``stem``.key in ``folder``: (certificate, key)."""
        folder.mkdir(parents=True, exist_ok=True)
        cert_path, key_path = folder / f"{stem}.pem", folder / f"{stem}.key"
        cert_path.write_bytes(self.cert_pem)
        key_path.write_bytes(self.key_pem)
        return cert_path, key_path


@dataclass(frozen=True)
class SmallCA(_Signed):
    """A self-made root (EC P-256) that signs server certificates directly."""

    @classmethod
    def make(cls, name: str = "Test Root CA", days: float = 3650) -> SmallCA:
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(name))
            .issuer_name(_name(name))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE)
            .not_valid_after(now + timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        return cls(cert, key)

    @classmethod
    def load(cls, cert_pem: bytes, ca_key_pem: bytes) -> SmallCA:
        """A CA made earlier, from its certificate and key."""
        key = serialization.load_pem_private_key(ca_key_pem, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("a small CA's key is an EC key")
        return cls(x509.load_pem_x509_certificate(cert_pem), key)

    @property
    def name(self) -> str:
        return str(self.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)

    def write_root(self, path: Path) -> Path:
        path.write_bytes(self.cert_pem)
        return path

    def leaf(
        self,
        names: Sequence[str],
        *,
        common_name: str | None = None,
        days: float = 90,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
    ) -> Leaf:
        """A server certificate for ``names`` (DNS names or IP addresses), valid now for ``days`` unless dates are given."""
        key = ec.generate_private_key(ec.SECP256R1())
        cert = self._server_certificate(key.public_key(), names, common_name, days, not_before, not_after)
        return Leaf(cert, key)

    def sign_request(self, csr_pem: bytes, days: float = 90) -> bytes:
        """The PEM certificate for a PEM CSR's key and DNS names, valid now for ``days`` (a CA's answer to an order)."""
        csr = x509.load_pem_x509_csr(csr_pem)
        names = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.DNSName
        )
        public_key = csr.public_key()
        if not isinstance(public_key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
            raise ValueError("the request's key is neither EC nor RSA")
        cert = self._server_certificate(public_key, names, None, days, None, None)
        return cert.public_bytes(serialization.Encoding.PEM)

    def _server_certificate(
        self,
        public_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey,
        names: Sequence[str],
        common_name: str | None,
        days: float,
        not_before: datetime | None,
        not_after: datetime | None,
    ) -> x509.Certificate:
        now = datetime.now(UTC)
        return (
            x509.CertificateBuilder()
            .subject_name(_name(common_name or names[0]))
            .issuer_name(self.cert.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before or now - BACKDATE)
            .not_valid_after(not_after or now + timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName([_alternative(n) for n in names]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False
            )
            .sign(self.key, hashes.SHA256())
        )

    def issue(
        self,
        folder: Path,
        names: Sequence[str],
        *,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
        stem: str = "leaf",
    ) -> tuple[Path, Path]:
        """(cert, key) files for ``names`` in ``folder``: :meth:`leaf`, written."""
        return self.leaf(names, not_before=not_before, not_after=not_after).write(folder, stem)
