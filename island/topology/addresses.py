"""Where each part of one island is, as one backend's code reaches it: what a builder makes of the topology.

The services' configuration, the probes and ``island status`` read this; a backend records it in
its state so ``island down`` and ``island status`` find the island again.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

DEFAULT_CRISIS_NAME = "krisinfo.kommun.example"


@dataclass(frozen=True)
class Addresses:
    crisis_name: str
    upstream_address: str  # the simulated internet's servers
    # Where the island's resolver and site send the internet's traffic: the uplink relay on loopback,
    # the upstream itself behind the router in namespaces, the router's island leg in containers.
    internet_address: str
    resolver_address: str
    site_address: str
    dns_port: int
    http_port: int
    # Each place's phone: trygghetspunkt-a (the resident), trygghetspunkt-b, home.
    places: dict[str, str]
    # Where the uplink relay listens (local and netns); None where a router makes the cut (compose).
    relay_address: str | None = None
    # Networks whose hosts may use the island resolver; derived from the places when empty.
    client_networks: tuple[str, ...] = field(default=())

    @property
    def resident_address(self) -> str:
        """The first place's phone: the resident the probes stand in for by default."""
        return next(iter(self.places.values()))

    @property
    def site_url(self) -> str:
        """The crisis page's URL for a person's own browser (which does not use the island resolver)."""
        return http_url(self.site_address, self.http_port)

    @property
    def crisis_url(self) -> str:
        """The crisis page's URL by name, as a resident on the island opens it."""
        return http_url(self.crisis_name, self.http_port)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Addresses:
        return cls(**{**data, "client_networks": tuple(data.get("client_networks", ()))})


def http_url(host: str, port: int) -> str:
    return f"http://{host}/" if port == 80 else f"http://{host}:{port}/"
