"""The compose backend's builder: the stack of docker-compose.yml, as seen from inside and from the host.

Three networks of the topology become Docker networks (compose has no namespaces to spare for the
other places, and one island only):

    upstream       NET.1.0/24  the internet: upstream NET.1.1, router NET.1.2
    island         NET.2.0/23  internal, no way out but the router: router NET.2.1,
                               resolver NET.3.1, crisis site NET.3.2 (the island network, 3, and
                               the one below it, which the router's leg borrows)
    trygghetspunkt NET.4.0/24  trygghetspunkt-a's Wi-Fi: router NET.4.1, resident NET.4.10

The router gives the island "the internet" at NET.2.1 (DNAT to the upstream) and is where the
uplink is cut. Docker's own bridge gateway takes .254 of each network's last /24. NET is
``198.18`` (RFC 2544's benchmarking range, unlikely to clash with a real LAN) unless
ISLAND_DOCKER_NET says otherwise. ``test_compose_file_agrees_with_the_topology`` holds
docker-compose.yml to this.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .addresses import Addresses
from .model import Topology, standard

PHONE = 10
ROUTER = 1
DOCKER_GATEWAY = 254
COMPOSE_PLACE = "trygghetspunkt-a"


@dataclass(frozen=True)
class ComposeNetwork:
    subnet: str
    gateway: str
    internal: bool  # no way out but the router; the trygghetspunkt is not: the host's ports arrive there


@dataclass(frozen=True)
class Layout:
    """Every address of the stack, from NET and the topology's network numbers."""

    net: str
    topology: Topology = field(default_factory=standard)

    def __post_init__(self) -> None:
        if len(self.topology.islands) != 1:
            raise ValueError("the compose stack is one island; a region runs on the local or netns backend")

    def _at(self, network: str, host: int, below: int = 0) -> str:
        return f"{self.net}.{self.topology.network(network).number - below}.{host}"

    @property
    def _island(self) -> str:
        return self.topology.island().network

    # Subnets -------------------------------------------------------------------------------------------
    @property
    def upstream_subnet(self) -> str:
        return self._at("internet", 0) + "/24"

    @property
    def island_subnet(self) -> str:
        return self._at(self._island, 0, below=1) + "/23"

    @property
    def client_subnet(self) -> str:
        return self._at(COMPOSE_PLACE, 0) + "/24"

    # Hosts -----------------------------------------------------------------------------------------------
    @property
    def upstream(self) -> str:
        return self._at("internet", 1)

    @property
    def router_upstream(self) -> str:
        return self._at("internet", 2)

    @property
    def router_island(self) -> str:
        return self._at(self._island, ROUTER, below=1)

    @property
    def resolver(self) -> str:
        return self._at(self._island, 1)

    @property
    def site(self) -> str:
        return self._at(self._island, 2)

    @property
    def router_client(self) -> str:
        return self._at(COMPOSE_PLACE, ROUTER)

    @property
    def resident(self) -> str:
        return self._at(COMPOSE_PLACE, PHONE)

    # What docker-compose.yml declares -------------------------------------------------------------------
    def networks(self) -> dict[str, ComposeNetwork]:
        return {
            "upstream": ComposeNetwork(self.upstream_subnet, self._at("internet", DOCKER_GATEWAY), True),
            "island": ComposeNetwork(self.island_subnet, self._at(self._island, DOCKER_GATEWAY), True),
            "trygghetspunkt": ComposeNetwork(
                self.client_subnet, self._at(COMPOSE_PLACE, DOCKER_GATEWAY), False
            ),
        }

    def containers(self) -> dict[str, dict[str, str]]:
        """Each container's address on each of its networks."""
        return {
            "upstream": {"upstream": self.upstream},
            "router": {
                "upstream": self.router_upstream,
                "island": self.router_island,
                "trygghetspunkt": self.router_client,
            },
            "resolver": {"island": self.resolver},
            "site": {"island": self.site},
            "client": {"trygghetspunkt": self.resident},
        }

    def inside(self, crisis_name: str) -> Addresses:
        """As the containers see the island: every service its own address, so the standard ports."""
        return Addresses(
            crisis_name=crisis_name,
            upstream_address=self.upstream,
            internet_address=self.router_island,
            resolver_address=self.resolver,
            site_address=self.site,
            dns_port=53,
            http_port=80,
            places={COMPOSE_PLACE: self.resident},
            # The island network (its router forwards the host's published resolver port) and
            # the trygghetspunkt's phones.
            client_networks=(self.island_subnet, self.client_subnet),
        )

    def from_host(
        self, crisis_name: str, http_bind: str, http_port: int, dns_bind: str, dns_port: int
    ) -> Addresses:
        """What a person on the host reaches: the published site and resolver; the rest is inside."""
        return Addresses(
            crisis_name=crisis_name,
            upstream_address=self.upstream,
            internet_address=self.router_island,
            resolver_address="127.0.0.1" if dns_bind in ("0.0.0.0", "") else dns_bind,
            site_address="localhost" if http_bind in ("0.0.0.0", "") else http_bind,
            dns_port=dns_port,
            http_port=http_port,
            places={COMPOSE_PLACE: self.resident},
        )
