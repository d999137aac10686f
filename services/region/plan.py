"""A region as data: the hub's nodes and the islands, where each listens, how long data is kept.

Everything else (server configurations, credentials, streams) is rendered from this.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from services.region.subjects import check_island_name

DEFAULT_RETENTION = 30 * 24 * 3600.0  # the registry's lifetime (services/crisis_site/registry.py DEFAULT_TTL)


@dataclass(frozen=True)
class HubNode:
    name: str
    host: str
    client_port: int
    leaf_port: int  # where islands connect (TLS, per-island nkeys)
    cluster_port: int  # routes between hub nodes; unused with one node
    monitor_port: int


@dataclass(frozen=True)
class IslandNode:
    name: str  # subject token and JetStream domain
    display: str  # shown at the hub next to the island's messages
    host: str
    client_port: int
    monitor_port: int


@dataclass(frozen=True)
class Region:
    name: str
    hub: tuple[HubNode, ...]
    islands: tuple[IslandNode, ...]
    retention: float = DEFAULT_RETENTION  # seconds: streams keep nothing longer than the registry

    def __post_init__(self) -> None:
        if len(self.hub) not in (1, 3):
            raise ValueError("the hub is one node or a cluster of three")
        names = [check_island_name(i.name) for i in self.islands]
        if len(set(names)) != len(names):
            raise ValueError("two islands with the same name")

    @property
    def replicas(self) -> int:
        return len(self.hub)

    def island(self, name: str) -> IslandNode:
        for island in self.islands:
            if island.name == name:
                return island
        raise KeyError(name)

    def display_names(self) -> dict[str, str]:
        return {i.name: i.display for i in self.islands}


def from_dict(data: dict[str, Any]) -> Region:
    """A Region from its file form (YAML or JSON), e.g.:

    name: odrift
    retention_days: 30
    hub: [{name: n1, host: 10.20.0.1, client_port: 4222, leaf_port: 7422, cluster_port: 6222, monitor_port: 8222}]
    islands: [{name: skolan, display: Skolan, host: 10.20.1.1, client_port: 4222, monitor_port: 8222}]
    """
    return Region(
        name=str(data["name"]),
        hub=tuple(HubNode(**node) for node in data["hub"]),
        islands=tuple(IslandNode(**island) for island in data["islands"]),
        retention=float(data.get("retention_days", DEFAULT_RETENTION / 86400)) * 86400,
    )


def to_dict(region: Region) -> dict[str, Any]:
    return {
        "name": region.name,
        "retention_days": region.retention / 86400,
        "hub": [asdict(n) for n in region.hub],
        "islands": [asdict(i) for i in region.islands],
    }


def load(path: Path) -> Region:
    return from_dict(yaml.safe_load(path.read_text()))
