"""Where each part of the island network lives: addresses, ports and the crisis name.

127.0.0.0/8 is a whole network on every machine, so the local backend gives each
host of the simulated network its own loopback address:

    upstream   the simulated internet's servers           NET.1.1
    uplink     the internet as the island reaches it      NET.2.1
    island     resolver NET.3.1, crisis site NET.3.2
    resident   a phone at a trygghetspunkt                NET.4.10
    others     a phone at a second trygghetspunkt NET.5.10, at home on the stadsnät NET.6.10
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field

DEFAULT_CRISIS_NAME = "krisinfo.kommun.example"
DEFAULT_NET = "127.42"


@dataclass(frozen=True)
class Topology:
    crisis_name: str
    upstream_address: str
    uplink_address: str
    resolver_address: str
    site_address: str
    resident_address: str
    dns_port: int
    http_port: int
    # Where each place's phone is: trygghetspunkt-a (the resident), trygghetspunkt-b, home.
    places: dict[str, str] = field(default_factory=dict)
    # Networks whose hosts may use the island resolver; derived from the places when empty.
    client_networks: tuple[str, ...] = ()

    @classmethod
    def local(cls, net: str | None = None, privileged: bool | None = None) -> Topology:
        """The loopback topology; standard ports 53 and 80 only when we may bind them (root)."""
        net = net or os.environ.get("ISLAND_NET", DEFAULT_NET)
        if privileged is None:
            privileged = os.geteuid() == 0
        return cls(
            crisis_name=os.environ.get("ISLAND_CRISIS_NAME", DEFAULT_CRISIS_NAME),
            upstream_address=f"{net}.1.1",
            uplink_address=f"{net}.2.1",
            resolver_address=f"{net}.3.1",
            site_address=f"{net}.3.2",
            resident_address=f"{net}.4.10",
            dns_port=53 if privileged else 5353,
            http_port=80 if privileged else 8080,
            places={
                "trygghetspunkt-a": f"{net}.4.10",
                "trygghetspunkt-b": f"{net}.5.10",
                "home": f"{net}.6.10",
            },
        )

    @property
    def site_url(self) -> str:
        """The crisis page's URL for a person's own browser (which does not use the island resolver)."""
        return _http_url(self.site_address, self.http_port)

    @property
    def crisis_url(self) -> str:
        """The crisis page's URL by name, as a resident on the island opens it."""
        return _http_url(self.crisis_name, self.http_port)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Topology:
        return cls(**data)


def _http_url(host: str, port: int) -> str:
    return f"http://{host}/" if port == 80 else f"http://{host}:{port}/"
