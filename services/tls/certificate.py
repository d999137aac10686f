"""A certificate and its key, checked before they are served: the name, the dates, the key, the chain.

Every refusal names the file and what is wrong, so an operator can act on it; nothing here
replaces what is already served (the caller decides that, only after a check passed).
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import ExtensionOID, NameOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


class CertificateProblem(ValueError):
    """A certificate that must not be served; the message names the file and the reason."""


@dataclass(frozen=True)
class CertificateInfo:
    names: tuple[str, ...]
    issuer: str
    not_before: datetime
    not_after: datetime

    def days_left(self, now: datetime | None = None) -> int:
        return int((self.not_after - (now or datetime.now(UTC))).total_seconds() // 86400)

    def fraction_left(self, now: datetime | None = None) -> float:
        """How much of its lifetime is left (1.0 new, 0.0 expired)."""
        lifetime = (self.not_after - self.not_before).total_seconds()
        left = (self.not_after - (now or datetime.now(UTC))).total_seconds()
        return max(0.0, min(1.0, left / lifetime)) if lifetime > 0 else 0.0

    def to_dict(self, now: datetime | None = None) -> dict[str, object]:
        return {
            "names": list(self.names),
            "issuer": self.issuer,
            "not_before": self.not_before.isoformat(timespec="seconds"),
            "not_after": self.not_after.isoformat(timespec="seconds"),
            "days_left": self.days_left(now),
        }


def read_chain(path: Path) -> list[x509.Certificate]:
    try:
        chain = x509.load_pem_x509_certificates(path.read_bytes())
    except OSError as exc:
        raise CertificateProblem(f"{path}: cannot read it ({exc.strerror})") from exc
    except ValueError as exc:
        raise CertificateProblem(f"{path}: not a PEM certificate") from exc
    return chain


def read_key(path: Path) -> PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as exc:
        raise CertificateProblem(f"{path}: cannot read it ({exc.strerror})") from exc
    except (ValueError, TypeError) as exc:
        raise CertificateProblem(f"{path}: not an unencrypted PEM private key") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise CertificateProblem(f"{path}: an unsupported kind of key ({type(key).__name__})")
    return key


def info(leaf: x509.Certificate) -> CertificateInfo:
    issuer = leaf.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)
    return CertificateInfo(
        names=dns_names(leaf),
        issuer=str(issuer[0].value) if issuer else leaf.issuer.rfc4514_string(),
        not_before=leaf.not_valid_before_utc,
        not_after=leaf.not_valid_after_utc,
    )


def dns_names(leaf: x509.Certificate) -> tuple[str, ...]:
    try:
        san = leaf.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
    except x509.ExtensionNotFound:
        return ()
    assert isinstance(san, x509.SubjectAlternativeName)
    return tuple(san.get_values_for_type(x509.DNSName))


def covers(names: tuple[str, ...], name: str) -> bool:
    """Whether the certificate's names cover ``name`` (a wildcard covers one label, as browsers match)."""
    name = name.lower().rstrip(".")
    for pattern in (n.lower() for n in names):
        if pattern == name:
            return True
        if pattern.startswith("*.") and "." in name and name.split(".", 1)[1] == pattern[2:]:
            return True
    return False


def check(
    cert_path: Path,
    key_path: Path,
    name: str,
    roots_path: Path | None,
    now: datetime | None = None,
) -> CertificateInfo:
    """The certificate's facts when it may be served for ``name``; else CertificateProblem.

    ``roots_path`` is the trusted roots (the public CA); None skips the chain check (no CA known).
    """
    now = now or datetime.now(UTC)
    chain = read_chain(cert_path)
    leaf = chain[0]
    facts = info(leaf)
    if not covers(facts.names, name):
        covered = ", ".join(facts.names) or "no DNS names"
        raise CertificateProblem(f"{cert_path}: does not cover {name} (it covers {covered})")
    if facts.not_after <= now:
        raise CertificateProblem(f"{cert_path}: expired on {facts.not_after:%Y-%m-%d %H:%M} UTC")
    if facts.not_before > now:
        raise CertificateProblem(f"{cert_path}: not valid before {facts.not_before:%Y-%m-%d %H:%M} UTC")
    key = read_key(key_path)
    if _spki(key.public_key()) != _spki(leaf.public_key()):
        raise CertificateProblem(f"{key_path}: is not the key of {cert_path} (they do not match)")
    if roots_path is not None:
        roots = read_chain(roots_path)
        verifier = PolicyBuilder().store(Store(roots)).time(now).build_server_verifier(x509.DNSName(name))
        try:
            verifier.verify(leaf, chain[1:])
        except VerificationError as exc:
            raise CertificateProblem(
                f"{cert_path}: does not chain to a trusted root in {roots_path} ({exc})"
            ) from exc
    return facts


def write_pair(folder: Path, chain_pem: bytes, key_pem: bytes, name: str = "") -> Path:
    """The key and the chain as one file in ``folder``, replaced at once (never a key without its chain)."""
    folder.mkdir(parents=True, exist_ok=True)
    name = name or PAIR_FILE
    target = folder / name
    tmp = folder / (name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key_pem.rstrip(b"\n") + b"\n" + chain_pem.lstrip())
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, target)
    return target


def _spki(public_key: CertificatePublicKeyTypes) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def system_roots() -> Path | None:
    """The operating system's trusted roots (a real municipality's certificate chains to one of them)."""
    cafile = ssl.get_default_verify_paths().cafile
    return Path(cafile) if cafile and Path(cafile).exists() else None


def key_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


# The island's key and certificate chain, one file (the key first), in its TLS folder.
PAIR_FILE = "island.pem"
