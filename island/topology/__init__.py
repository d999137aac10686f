"""The simulated network, once, as data (:mod:`.model`), and one builder per backend.

    model      networks, hosts, links, places, services, the uplink, the island(s) and a hub
    addresses  where each part of one island is, as a backend's code reaches it
    local      loopback addresses            netns   namespaces, veths, and the commands that make them
    compose    the Docker stack, from inside the containers and from the host

Standard library only: the containers' healthchecks import it.
"""

from __future__ import annotations

from .addresses import DEFAULT_CRISIS_NAME, Addresses
from .model import Host, Island, Link, Network, Place, Service, Topology, standard

__all__ = [
    "DEFAULT_CRISIS_NAME",
    "Addresses",
    "Host",
    "Island",
    "Link",
    "Network",
    "Place",
    "Service",
    "Topology",
    "standard",
]
