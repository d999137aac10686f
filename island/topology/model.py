"""The simulated network as data: networks, hosts, the links that join them, places, services, the uplink.

Every backend builds the same shape, a star around one router:

    internet ─ uplink ─┐
                       router ─ island (resolver, site)
                       ├─ trygghetspunkt-a, trygghetspunkt-b (a phone each), home (a stadsnät subscriber)
                       └─ stadsnät (a region's hub, with islands=N > 1)

Each network has a number that every address plan uses (``NET.<number>.x`` on loopback and in
containers, ``10.<number>.0.x`` in namespaces), so the plans differ only in the host part. A
link is the router's cable to one network; link faults (down, partition) name links. With
``islands=N`` > 1 the islands are named ``a``, ``b``, ... each with its own island network and one
trygghetspunkt, and the hub stands on the stadsnät network: traffic between an island and the hub
crosses the router over the island's link and the stadsnät link, never the internet uplink, so
the two can be cut separately. ``islands=1`` is today's island, exactly.

Standard library only: the containers' healthchecks import it.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Literal, TypeVar

ROUTER = "router"
UPLINK = "uplink"
STADSNAT = "stadsnät"
HUB = "hub"
# Free in every plan: an island i uses 3 + 10 i and up, the loopback relay and the compose island 2.
STADSNAT_NUMBER = 9

HostRole = Literal["router", "internet", "island", "phone", "hub"]


@dataclass(frozen=True)
class Network:
    name: str
    number: int  # the same in every address plan; see the module's docstring
    island: str | None = None  # the island it belongs to; None for the internet and the stadsnät


@dataclass(frozen=True)
class Host:
    name: str
    role: HostRole
    networks: tuple[str, ...]  # a leaf stands on one; the router on all
    short: str  # the host's part of namespace and interface names (`ip` allows 15 characters)
    island: str | None = None


@dataclass(frozen=True)
class Link:
    """The router's cable to one network: what `link-down` and `partition` faults name."""

    name: str
    network: str
    host: str  # the leaf host at the far end


@dataclass(frozen=True)
class Place:
    """Where a resident stands: a phone on a network, given its island's resolver."""

    name: str
    host: str
    island: str


@dataclass(frozen=True)
class Service:
    """A process of the simulation and the host it runs on."""

    name: str  # upstream, uplink (the relay), resolver, site; an island's own ones carry its name in a region
    kind: Literal["upstream", "uplink", "resolver", "site"]
    host: str
    island: str | None = None


@dataclass(frozen=True)
class Island:
    name: str
    host: str  # where its resolver and site run
    network: str
    link: str
    places: tuple[str, ...]


@dataclass(frozen=True)
class Topology:
    networks: tuple[Network, ...]
    hosts: tuple[Host, ...]
    links: tuple[Link, ...]
    places: tuple[Place, ...]
    services: tuple[Service, ...]
    islands: tuple[Island, ...]
    uplink: str = UPLINK  # the link to the internet
    hub: str | None = None  # the region's hub host, on the stadsnät network
    # The hub's nats-server nodes on that host: one, or a cluster of three (how a county outgrows one
    # machine); each node has an address of its own on the stadsnät, in node order.
    hub_nodes: tuple[str, ...] = ()

    def network(self, name: str) -> Network:
        return _named(self.networks, name, "network")

    def host(self, name: str) -> Host:
        return _named(self.hosts, name, "host")

    def link(self, name: str) -> Link:
        return _named(self.links, name, "link")

    def place(self, name: str) -> Place:
        return _named(self.places, name, "place")

    def island(self, name: str | None = None) -> Island:
        """One island by name; without a name, the only one (a region must name it)."""
        if name is None:
            if len(self.islands) != 1:
                raise ValueError(f"a region of {len(self.islands)} islands: name the island")
            return self.islands[0]
        return _named(self.islands, name, "island")

    def service(self, kind: str, island: str | None = None) -> Service:
        for service in self.services:
            if service.kind == kind and service.island == island:
                return service
        raise KeyError(f"no {kind} service" + (f" on island {island}" if island else ""))

    def leaves(self) -> tuple[Host, ...]:
        """Every host but the router, in link order."""
        return tuple(self.host(link.host) for link in self.links)


_Named = TypeVar("_Named", Network, Host, Link, Place, Island)


def _named(items: tuple[_Named, ...], name: str, what: str) -> _Named:
    for item in items:
        if item.name == name:
            return item
    raise KeyError(f"no {what} {name!r}; there are: {', '.join(i.name for i in items)}")


def island_names(count: int) -> tuple[str, ...]:
    if not 1 <= count <= 20:
        raise ValueError(f"islands must be between 1 and 20, not {count}")
    if count == 1:
        return ("island",)
    return tuple(string.ascii_lowercase[:count])


HUB_NODE_COUNTS = (1, 3)


def standard(islands: int = 1, hub_nodes: int = 1) -> Topology:
    """The network every backend builds: today's island, or a region of ``islands`` islands and a hub
    of ``hub_nodes`` nats-server nodes (1, or a cluster of 3)."""
    names = island_names(islands)
    if hub_nodes not in HUB_NODE_COUNTS:
        raise ValueError(f"the hub is one node or a cluster of three, not {hub_nodes}")
    if hub_nodes > 1 and islands == 1:
        raise ValueError("one island has no hub; a hub cluster needs a region (islands > 1)")
    networks = [Network("internet", 1)]
    hosts = [
        Host(ROUTER, "router", (), "rt"),
        Host("upstream", "internet", ("internet",), "up"),
    ]
    links = [Link(UPLINK, "internet", "upstream")]
    services = [Service("upstream", "upstream", "upstream"), Service("uplink", "uplink", ROUTER)]
    places: list[Place] = []
    built: list[Island] = []
    for index, name in enumerate(names):
        place_names: tuple[str, ...]
        place_shorts: tuple[str, ...]
        if islands == 1:
            host, short, place_names = "island", "isl", ("trygghetspunkt-a", "trygghetspunkt-b", "home")
            place_shorts = ("tpa", "tpb", "home")
        else:
            host, short = f"island-{name}", f"isl{name}"
            place_names, place_shorts = (f"trygghetspunkt-{name}",), (f"tp{name}",)
        base = 3 + 10 * index  # island a keeps today's numbers: island 3, its places 4, 5, 6
        networks.append(Network(host, base, name))
        hosts.append(Host(host, "island", (host,), short, name))
        links.append(Link(host, host, host))
        owner = None if islands == 1 else name
        services += [
            Service("resolver" if owner is None else f"resolver-{name}", "resolver", host, owner),
            Service("site" if owner is None else f"site-{name}", "site", host, owner),
        ]
        for offset, (place, place_short) in enumerate(zip(place_names, place_shorts), start=1):
            networks.append(Network(place, base + offset, name))
            hosts.append(Host(place, "phone", (place,), place_short, name))
            links.append(Link(place, place, place))
            places.append(Place(place, place, name))
        built.append(Island(name, host, host, host, place_names))
    hub = None
    if islands > 1:
        hub = HUB
        networks.append(Network(STADSNAT, STADSNAT_NUMBER))
        hosts.append(Host(HUB, "hub", (STADSNAT,), "hub"))
        links.append(Link(STADSNAT, STADSNAT, HUB))
    router = Host(ROUTER, "router", tuple(n.name for n in networks), "rt")
    return Topology(
        networks=tuple(networks),
        hosts=(router, *hosts[1:]),
        links=tuple(links),
        places=tuple(places),
        services=tuple(services),
        islands=tuple(built),
        hub=hub,
        hub_nodes=tuple(f"n{n}" for n in range(1, hub_nodes + 1)) if hub else (),
    )
