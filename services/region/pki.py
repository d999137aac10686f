"""The region CA: one self-made certificate authority per region, and the hub's server certificates.

Islands trust only this CA for the hub link (not the system's public CAs): the stadsnät is the
municipality's own network, and an island must not talk to anyone else posing as its hub.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.tls.small_ca import SmallCA

CA_DAYS = 3650
SERVER_DAYS = 825


@dataclass(frozen=True)
class Issued:
    cert_pem: bytes
    key_pem: bytes


def new_ca(region: str) -> Issued:
    ca = SmallCA.make(f"Ödrift region CA {region}", days=CA_DAYS)
    return Issued(ca.cert_pem, ca.key_pem)


def issue_server(ca: Issued, common_name: str, names: list[str]) -> Issued:
    """A server certificate for `names` (DNS names or IP addresses), signed by the region CA."""
    leaf = SmallCA.load(ca.cert_pem, ca.key_pem).leaf(names, common_name=common_name, days=SERVER_DAYS)
    return Issued(leaf.cert_pem, leaf.key_pem)
