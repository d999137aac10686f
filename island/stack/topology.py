"""Where each part of the island lives in the Docker Compose stack, and the settings a run may change.

Three networks, the same shape as the other backends:

    upstream       NET.1.0/24  the simulated internet: upstream NET.1.1, router NET.1.2
    island         NET.2.0/23  internal, no way out but the router: router NET.2.1,
                               resolver NET.3.1, crisis site NET.3.2
    trygghetspunkt NET.4.0/24  the safety point's Wi-Fi: router NET.4.1, resident NET.4.10

The router reaches "the internet" for the island at NET.2.1, as the local backend's relay
does at its uplink address, and is where the uplink is cut. NET is ``198.18`` (RFC 2544's
benchmarking range, unlikely to clash with a real LAN) unless ISLAND_DOCKER_NET says otherwise.
Every setting is read from the environment, by the backend on the host and by
``docker-compose.yml`` alike, so the names below are the ones the compose file substitutes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from ..topology import DEFAULT_CRISIS_NAME, Topology

DEFAULTS: dict[str, str] = {
    "ISLAND_COMPOSE_PROJECT": "odrift-island",
    "ISLAND_DOCKER_NET": "198.18",
    "ISLAND_CRISIS_NAME": DEFAULT_CRISIS_NAME,
    "ISLAND_HTTP_BIND": "0.0.0.0",
    "ISLAND_HTTP_PORT": "8080",
    "ISLAND_DNS_BIND": "0.0.0.0",
    "ISLAND_DNS_PORT": "5300",
    "ISLAND_IMAGE": "odrift-island:0.1.0",
    "ISLAND_BASE_IMAGE": "python:3.11-slim",
}


@dataclass(frozen=True)
class ComposeSettings:
    project: str
    net: str
    crisis_name: str
    http_bind: str
    http_port: int
    dns_bind: str
    dns_port: int
    image: str
    base_image: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ComposeSettings:
        env = os.environ if env is None else env
        value = {name: env.get(name) or default for name, default in DEFAULTS.items()}
        return cls(
            project=value["ISLAND_COMPOSE_PROJECT"],
            net=value["ISLAND_DOCKER_NET"],
            crisis_name=value["ISLAND_CRISIS_NAME"],
            http_bind=value["ISLAND_HTTP_BIND"],
            http_port=int(value["ISLAND_HTTP_PORT"]),
            dns_bind=value["ISLAND_DNS_BIND"],
            dns_port=int(value["ISLAND_DNS_PORT"]),
            image=value["ISLAND_IMAGE"],
            base_image=value["ISLAND_BASE_IMAGE"],
        )

    def env(self) -> dict[str, str]:
        """The variables docker-compose.yml substitutes."""
        return {
            "ISLAND_COMPOSE_PROJECT": self.project,
            "ISLAND_DOCKER_NET": self.net,
            "ISLAND_CRISIS_NAME": self.crisis_name,
            "ISLAND_HTTP_BIND": self.http_bind,
            "ISLAND_HTTP_PORT": str(self.http_port),
            "ISLAND_DNS_BIND": self.dns_bind,
            "ISLAND_DNS_PORT": str(self.dns_port),
            "ISLAND_IMAGE": self.image,
            "ISLAND_BASE_IMAGE": self.base_image,
        }

    def to_dict(self) -> dict[str, str]:
        return self.env()


@dataclass(frozen=True)
class Layout:
    """Every address of the stack, from NET."""

    net: str

    @property
    def upstream_subnet(self) -> str:
        return f"{self.net}.1.0/24"

    @property
    def island_subnet(self) -> str:
        return f"{self.net}.2.0/23"

    @property
    def client_subnet(self) -> str:
        return f"{self.net}.4.0/24"

    upstream = property(lambda self: f"{self.net}.1.1")
    router_upstream = property(lambda self: f"{self.net}.1.2")
    router_island = property(lambda self: f"{self.net}.2.1")
    resolver = property(lambda self: f"{self.net}.3.1")
    site = property(lambda self: f"{self.net}.3.2")
    router_client = property(lambda self: f"{self.net}.4.1")
    resident = property(lambda self: f"{self.net}.4.10")

    def topology(self, crisis_name: str) -> Topology:
        # Inside the containers every service has its own address, so the standard ports.
        return Topology(
            crisis_name=crisis_name,
            upstream_address=self.upstream,
            uplink_address=self.router_island,
            resolver_address=self.resolver,
            site_address=self.site,
            resident_address=self.resident,
            dns_port=53,
            http_port=80,
            # The island network (its router forwards the host's published resolver port) and
            # the trygghetspunkt's phones.
            client_networks=(self.island_subnet, self.client_subnet),
        )


def from_env(env: Mapping[str, str] | None = None) -> tuple[ComposeSettings, Layout]:
    settings = ComposeSettings.from_env(env)
    return settings, Layout(settings.net)
