"""The islands the municipality's certificate service knows: each one's credential and the names it may have.

A real municipality gives each island a credential when it installs it; in the simulator the
service makes it at its first start, in the island's data folder (standing in for the installer),
and keeps only its SHA-256. An island sends it with its CSR (``Authorization: Bearer TOKEN``);
the service signs only the names that island may have (its crisis name). A stolen island's
credential therefore gets nothing but its own crisis name, and is revoked by removing it here.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

# In the island's TLS folder, beside its key: what it proves itself to the municipality with.
CREDENTIAL_FILE = "certificate-service.token"


class Refused(ValueError):
    """A caller the service will not sign for; ``status`` is the HTTP status that says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Island:
    label: str  # for the log: which island asked
    names: tuple[str, ...]  # the names it may have certificates for


def issue_credential(path: Path) -> str:
    """The island's credential in ``path``: read, or made (random, readable by its owner only) the first time."""
    if path.exists():
        # Kept by its owner alone: a copy others could read is put right at once, not trusted as it is.
        path.chmod(0o600)
        return path.read_text(encoding="ascii").strip()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    token = secrets.token_urlsafe(32)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)  # a stale one would keep its own mode
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(token + "\n")
    os.replace(tmp, path)
    return token


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


class IslandCredentials:
    """Who may ask: each island's credential (kept as a hash) and its names."""

    def __init__(self) -> None:
        self._islands: list[tuple[bytes, Island]] = []

    def add(self, token: str, island: Island) -> None:
        self._islands.append((_digest(token), island))

    def authenticate(self, authorization: str | None) -> Island:
        """The island that sent ``authorization`` (the request's Authorization header), or Refused."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Refused(
                401,
                f"no island credential; send the island's token (its tls/{CREDENTIAL_FILE}) "
                'as "Authorization: Bearer TOKEN"',
            )
        digest = _digest(token.strip())
        found = [island for known, island in self._islands if hmac.compare_digest(known, digest)]
        if not found:
            raise Refused(403, "the credential is not one this service gave to an island")
        return found[0]

    @staticmethod
    def allow(island: Island, names: list[str]) -> None:
        """Refused unless every name is one ``island`` may have."""
        other = [n for n in names if n.lower().rstrip(".") not in island.names]
        if other:
            raise Refused(
                403,
                f"{island.label} may have a certificate for {', '.join(island.names)} only, not {', '.join(other)}",
            )
