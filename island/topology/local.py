"""The local backend's builder: every host of the topology gets its own loopback address.

127.0.0.0/8 is a whole network on every machine, so network number N is ``NET.N.0/24``:

    upstream   the simulated internet's servers                NET.1.1
    relay      the uplink as the island reaches it              NET.2.1
    island     resolver NET.3.1, crisis site NET.3.2
    phones     trygghetspunkt-a NET.4.10, trygghetspunkt-b NET.5.10, home (on the stadsnät) NET.6.10
    hub        a region's hub, on the stadsnät network          NET.9.1 (a cluster's nodes .1, .2, .3)
"""

from __future__ import annotations

import os

from .addresses import DEFAULT_CRISIS_NAME, Addresses
from .model import Topology, standard

DEFAULT_NET = "127.42"
RELAY_NETWORK = 2  # no router on loopback: the relay stands where the router's island leg would
PHONE = 10


def net_from_env() -> str:
    return os.environ.get("ISLAND_NET", DEFAULT_NET)


def local_addresses(
    topology: Topology | None = None,
    island: str | None = None,
    net: str | None = None,
    privileged: bool | None = None,
) -> Addresses:
    """One island on loopback; the standard ports 53 and 80 only when we may bind them (root)."""
    topology = topology or standard()
    net = net or net_from_env()
    if privileged is None:
        privileged = os.geteuid() == 0
    chosen = topology.island(island)
    island_net = topology.network(chosen.network).number
    relay = f"{net}.{RELAY_NETWORK}.1"
    return Addresses(
        crisis_name=os.environ.get("ISLAND_CRISIS_NAME", DEFAULT_CRISIS_NAME),
        upstream_address=f"{net}.{topology.network('internet').number}.1",
        internet_address=relay,
        relay_address=relay,
        resolver_address=f"{net}.{island_net}.1",
        site_address=f"{net}.{island_net}.2",
        dns_port=53 if privileged else 5353,
        http_port=80 if privileged else 8080,
        places={p: f"{net}.{topology.network(p).number}.{PHONE}" for p in chosen.places},
    )


def hub_address(topology: Topology, net: str | None = None) -> str:
    """The region's hub on loopback (its site, its replicator and its first nats-server node)."""
    return hub_node_addresses(topology, net)[0]


def hub_node_addresses(topology: Topology, net: str | None = None) -> list[str]:
    """Each of the hub's nats-server nodes on loopback, in node order."""
    if topology.hub is None:
        raise ValueError("one island has no hub; a region has (islands > 1)")
    network = topology.network(topology.host(topology.hub).networks[0])
    return [f"{net or net_from_env()}.{network.number}.{n}" for n in range(1, len(topology.hub_nodes) + 1)]
