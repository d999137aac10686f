"""The settings a run of the Docker Compose stack may change; its addresses are :mod:`island.topology.compose`.

Every setting is read from the environment, by the backend on the host and by
``docker-compose.yml`` alike, so the names below are the ones the compose file substitutes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from ..topology import DEFAULT_CRISIS_NAME, Addresses
from ..topology.compose import Layout

DEFAULTS: dict[str, str] = {
    "ISLAND_COMPOSE_PROJECT": "odrift-island",
    "ISLAND_DOCKER_NET": "198.18",
    "ISLAND_CRISIS_NAME": DEFAULT_CRISIS_NAME,
    "ISLAND_HTTP_BIND": "0.0.0.0",
    "ISLAND_HTTP_PORT": "8080",
    "ISLAND_HTTPS_PORT": "8443",
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
    https_port: int  # the site's HTTPS (443 in the stack), published on the host beside its HTTP
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
            https_port=int(value["ISLAND_HTTPS_PORT"]),
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
            "ISLAND_HTTPS_PORT": str(self.https_port),
            "ISLAND_DNS_BIND": self.dns_bind,
            "ISLAND_DNS_PORT": str(self.dns_port),
            "ISLAND_IMAGE": self.image,
            "ISLAND_BASE_IMAGE": self.base_image,
        }

    def to_dict(self) -> dict[str, str]:
        return self.env()

    @property
    def layout(self) -> Layout:
        return Layout(self.net)

    def from_host(self) -> Addresses:
        """What a person on the host reaches: the published site and resolver; the rest is inside."""
        return self.layout.from_host(
            self.crisis_name, self.http_bind, self.http_port, self.dns_bind, self.dns_port
        )
