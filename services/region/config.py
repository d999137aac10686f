"""nats-server configurations for the hub's nodes and the islands, rendered from a Region.

nats-server reads JSON as its configuration format, so a configuration is a dict dumped as JSON:
no template to get wrong.

- The hub: JetStream domain `hub`, a TLS leaf-node listener, and (three nodes) a cluster. Its
  users: one per island, authenticated by the island's nkey, allowed to publish only under
  `region.<island>.` plus what its own consumer of the hub's stream needs; and the hub's own
  local clients.
- An island: JetStream domain = its name, a leaf-node connection to the hub (TLS, trusting only
  the region CA, signed with its nkey) listing every hub node, the island's own first: islands are
  spread over a cluster's nodes in order (a on n1, b on n2, c on n3, d on n1, ...) and each moves to
  the next node in its list when its node goes down, so which islands a node's fault moves is known. Its own clients (site, replicator) log in with the
  island's client password: residents' phones share the island's network and must not publish.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from services.region import subjects
from services.region.credentials import Credentials
from services.region.plan import HubNode, IslandNode, Region

HUB_CLIENT_USER = "hub"
ISLAND_CLIENT_USER = "island"
MAX_PAYLOAD = 64 * 1024  # an event is small; see events.MAX_BYTES


def island_permissions(island: str) -> dict[str, Any]:
    """What an island's leaf connection may publish into the hub: its own subjects; the requests
    and acknowledgements of its own consumer on the hub's stream; and replies (the hub reading the
    island's stream gets its answers on _INBOX). Not another island's subjects, not the hub's."""
    api = subjects.js_api(subjects.HUB)
    mine = f"{subjects.REGION_STREAM}.{subjects.island_consumer(island)}"
    return {
        "publish": {
            "allow": [
                subjects.all_of(island),
                f"{api}.CONSUMER.CREATE.{mine}",
                f"{api}.CONSUMER.CREATE.{mine}.>",
                f"{api}.CONSUMER.DURABLE.CREATE.{mine}",
                f"{api}.CONSUMER.INFO.{mine}",
                f"{api}.CONSUMER.MSG.NEXT.{mine}",
                f"$JS.ACK.{mine}.>",
                f"$JS.ACK.{subjects.HUB}.*.{mine}.>",
                "_INBOX.>",
            ],
        },
        "subscribe": {"allow": [">"]},
    }


def hub_config(region: Region, node: HubNode, creds: Credentials, store_dir: Path) -> dict[str, Any]:
    cert, key = creds.hub_cert(node.name)
    users: list[dict[str, Any]] = [
        {"nkey": creds.island_public(i.name), "permissions": island_permissions(i.name)}
        for i in region.islands
    ]
    users.append({"user": HUB_CLIENT_USER, "password": creds.hub_password()})
    config: dict[str, Any] = {
        "server_name": f"hub-{node.name}",
        "host": node.host,
        "port": node.client_port,
        "http": f"{node.host}:{node.monitor_port}",
        "max_payload": MAX_PAYLOAD,
        "jetstream": {"domain": subjects.HUB, "store_dir": str(store_dir)},
        "authorization": {"users": users},
        "leafnodes": {
            "host": node.host,
            "port": node.leaf_port,
            "tls": {"cert_file": str(cert), "key_file": str(key), "timeout": 5},
            # Islands reach the hub by the addresses in their own configuration (every hub node is
            # listed there), never by ones the hub tells them: those may not be on the stadsnät.
            "no_advertise": True,
        },
    }
    if region.replicas > 1:
        config["cluster"] = {
            "name": f"{region.name}-hub",
            "host": node.host,
            "port": node.cluster_port,
            "routes": [f"nats://{n.host}:{n.cluster_port}" for n in region.hub if n is not node],
        }
    return config


def hub_order(region: Region, island: IslandNode) -> list[HubNode]:
    """The hub's nodes in the order the island tries them: its own first, then the next ones."""
    first = region.islands.index(island) % len(region.hub)
    return [*region.hub[first:], *region.hub[:first]]


def island_config(region: Region, island: IslandNode, creds: Credentials, store_dir: Path) -> dict[str, Any]:
    return {
        "server_name": f"island-{island.name}",
        "host": island.host,
        "port": island.client_port,
        "http": f"{island.host}:{island.monitor_port}",
        "max_payload": MAX_PAYLOAD,
        "jetstream": {"domain": island.name, "store_dir": str(store_dir)},
        "authorization": {
            "users": [{"user": ISLAND_CLIENT_USER, "password": creds.island_password(island.name)}]
        },
        "leafnodes": {
            "reconnect": "1s",  # a healed link is used within a second
            "remotes": [
                {
                    "urls": [f"tls://{n.host}:{n.leaf_port}" for n in hub_order(region, island)],
                    "dont_randomize": True,
                    "nkey": creds.island_seed(island.name),
                    "tls": {"ca_file": str(creds.ca_file), "timeout": 5},
                }
            ],
        },
    }


def write(config: dict[str, Any], path: Path) -> Path:
    """The configuration holds secrets (the island's seed, the client passwords): 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(config, out, indent=2)
    return path
