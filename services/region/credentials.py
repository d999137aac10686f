"""The region's secrets on disk: the region CA, the hub's TLS certificates, one nkey per island,
and the password of the hub's own local clients. Made once, then reused (an island keeps its key).

Layout under the folder (mode 0700; secrets 0600):
    ca.pem ca.key                    the region CA (ca.key stays with the operator)
    hub/<node>.pem hub/<node>.key    each hub node's leaf-node TLS certificate
    hub/client.password              the hub's local clients (replicator, editors' site)
    islands/<name>.seed              an island's nkey seed (copied to that island only)
    islands/<name>.pub               its public key (in the hub's configuration)
    islands/<name>.client.password   the island's own clients (replicator, site) on its own server
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from services.region import nkeys, pki
from services.region.plan import Region


def _write_secret(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


@dataclass(frozen=True)
class Credentials:
    folder: Path

    @property
    def ca_file(self) -> Path:
        return self.folder / "ca.pem"

    def hub_cert(self, node: str) -> tuple[Path, Path]:
        return self.folder / "hub" / f"{node}.pem", self.folder / "hub" / f"{node}.key"

    def hub_password(self) -> str:
        return (self.folder / "hub" / "client.password").read_text().strip()

    def island_seed(self, island: str) -> str:
        return (self.folder / "islands" / f"{island}.seed").read_text().strip()

    def island_password(self, island: str) -> str:
        return (self.folder / "islands" / f"{island}.client.password").read_text().strip()

    def island_public(self, island: str) -> str:
        return (self.folder / "islands" / f"{island}.pub").read_text().strip()


def ensure(region: Region, folder: Path) -> Credentials:
    """Make whatever of the region's secrets is missing; existing ones are kept."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    creds = Credentials(folder)
    if not creds.ca_file.exists():
        ca = pki.new_ca(region.name)
        _write_secret(folder / "ca.key", ca.key_pem)
        _write_secret(creds.ca_file, ca.cert_pem)
    ca = pki.Issued(creds.ca_file.read_bytes(), (folder / "ca.key").read_bytes())
    for node in region.hub:
        cert, key = creds.hub_cert(node.name)
        if not cert.exists():
            issued = pki.issue_server(ca, f"{region.name} hub {node.name}", [node.host, "localhost"])
            _write_secret(key, issued.key_pem)
            _write_secret(cert, issued.cert_pem)
    password = folder / "hub" / "client.password"
    if not password.exists():
        _write_secret(password, secrets.token_urlsafe(24).encode())
    for island in region.islands:
        seed_file = folder / "islands" / f"{island.name}.seed"
        if not seed_file.exists():
            user = nkeys.new_user()
            _write_secret(seed_file, user.seed.encode())
            _write_secret(folder / "islands" / f"{island.name}.pub", user.public.encode())
        island_password = folder / "islands" / f"{island.name}.client.password"
        if not island_password.exists():
            _write_secret(island_password, secrets.token_urlsafe(24).encode())
    return creds
