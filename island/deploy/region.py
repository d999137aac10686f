"""An island's part in a region, rendered from the site file: the region file, and the units of its own
nats-server and replicator (``services.region``), beside the resolver's and the site's.

The secrets are not rendered: the region's administrator makes them once for the whole municipality
(``python -m services.region setup``) and copies each island its own share; the island's nats-server unit
writes its server configuration from that share at start (``services.region configure``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import yaml

from services.region import plan

if TYPE_CHECKING:
    from .site import SiteFile, Trygghetspunkt

# Each island's own nats-server listens on the box's loopback only: its clients are the box's site and
# replicator; the region's traffic leaves by the leaf connection to the hub.
CLIENT_PORT, MONITOR_PORT, REPLICATOR_PORT = 4222, 8222, 9472
HUB_CLIENT_PORT, HUB_CLUSTER_PORT, HUB_MONITOR_PORT = 4222, 6222, 8222


def island_name(place: Trygghetspunkt) -> str:
    """The island's subject token and JetStream domain: the trygghetspunkt's id as NATS allows it."""
    return place.id.replace("-", "_")


def region_plan(site: SiteFile) -> plan.Region:
    """The whole region: the site file's hub and every trygghetspunkt as an island."""
    assert site.region is not None
    host, _, leaf = site.region.hub.rpartition(":")
    hub = plan.HubNode("n1", host, HUB_CLIENT_PORT, int(leaf), HUB_CLUSTER_PORT, HUB_MONITOR_PORT)
    islands = tuple(
        plan.IslandNode(island_name(p), p.name, "127.0.0.1", CLIENT_PORT, MONITOR_PORT)
        for p in site.trygghetspunkter
    )
    return plan.Region(
        site.municipality.domain.split(".")[0], (hub,), islands, retention=site.registry_days * 86400.0
    )


def region_file(site: SiteFile) -> str:
    return "# The region, rendered from the site file: the hub and every trygghetspunkt.\n" + yaml.safe_dump(
        plan.to_dict(region_plan(site)), sort_keys=False, allow_unicode=True
    )


def nats_args(place: Trygghetspunkt, config_dir: str, data_dir: str) -> tuple[list[str], list[str]]:
    """The island's nats-server: its configuration written from its credentials first, then the server."""
    folder = f"{data_dir}/region"
    configure = ["-m", "services.region", "configure", f"{config_dir}/region.yaml", folder]
    return [*configure, "--place", island_name(place)], ["-c", f"{folder}/{island_name(place)}/nats.conf"]


def replicator_args(place: Trygghetspunkt, config_dir: str, data_dir: str, database: str) -> list[str]:
    folder = f"{data_dir}/region"
    return [
        *("-m", "services.region", "replicator", f"{config_dir}/region.yaml", folder),
        *("--place", island_name(place), "--registry", database, "--site", database),
        *("--state-file", f"{folder}/{island_name(place)}/state.json"),
        *("--metrics", f"127.0.0.1:{REPLICATOR_PORT}"),
    ]
