"""The netns backend's builder: a namespace per host, a veth per link, and the commands that make them.

Network number N is ``10.N.0.0/24``; the router is ``10.N.0.1`` on each, the uplink relay listens
on the router's internet leg (``10.1.0.1``), the upstream is ``10.1.0.2``, an island's resolver
and site ``.10`` and ``.11``, a phone or the hub ``.10``. :meth:`NetnsPlan.commands` is a pure
function of the topology: every `ip`, `nft` and file write, in order, so what the backend does can
be read (and repeated by hand) from this list.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from .addresses import DEFAULT_CRISIS_NAME, Addresses
from .model import ROUTER, Host, Topology, standard

ROUTER_HOST = 1
UPSTREAM_HOST = 2
LEAF_HOST = 10  # a phone, the hub; an island's resolver (the site is the next one)
LEAF_INTERFACE = "eth0"
NETNS_ETC = "/etc/netns"
# The tables the fault rules go in (one chain per fault); made empty with the router.
FAULT_TABLES = "add table inet odrift\nadd table ip odrift_nat\n"


@dataclass(frozen=True)
class Command:
    argv: tuple[str, ...]
    input: str | None = None  # written to its stdin (nft scripts, file contents)


@dataclass(frozen=True)
class NetnsPlan:
    prefix: str  # every namespace's name starts with it: ``odr<tag>-``
    topology: Topology = field(default_factory=standard)

    # Names ----------------------------------------------------------------------------------------
    def namespace(self, host: str) -> str:
        return self.prefix + self.topology.host(host).short

    def namespaces(self) -> list[str]:
        """The router's first: it is made first and holds the fault tables."""
        return [self.namespace(h.name) for h in self.topology.hosts]

    def router_interface(self, link: str) -> str:
        """The router's end of a link (its peer in the leaf is always eth0)."""
        return "r-" + self.topology.host(self.topology.link(link).host).short

    def service_namespace(self, service: str) -> str:
        return self.namespace(_service_host(self.topology, service))

    def place_namespace(self, place: str) -> str:
        return self.namespace(self.topology.place(place).host)

    # Addresses --------------------------------------------------------------------------------------
    def _address(self, network: str, host: int) -> str:
        return f"10.{self.topology.network(network).number}.0.{host}"

    def router_address(self, network: str) -> str:
        return self._address(network, ROUTER_HOST)

    def host_addresses(self, host: Host) -> list[str]:
        network = host.networks[0]
        if host.role == "internet":
            return [self._address(network, UPSTREAM_HOST)]
        if host.role == "island":  # the resolver, then the site
            return [self._address(network, LEAF_HOST), self._address(network, LEAF_HOST + 1)]
        return [self._address(network, LEAF_HOST)]

    def addresses(self, island: str | None = None, crisis_name: str | None = None) -> Addresses:
        t = self.topology
        chosen = t.island(island)
        upstream = self.host_addresses(t.host(t.link(t.uplink).host))[0]
        resolver, site = self.host_addresses(t.host(chosen.host))
        return Addresses(
            crisis_name=crisis_name or os.environ.get("ISLAND_CRISIS_NAME", DEFAULT_CRISIS_NAME),
            upstream_address=upstream,
            internet_address=upstream,  # a real route through the router: nothing in the way
            relay_address=self.router_address(t.link(t.uplink).network),
            resolver_address=resolver,
            site_address=site,
            dns_port=53,
            http_port=80,
            places={p: self.host_addresses(t.host(t.place(p).host))[0] for p in chosen.places},
        )

    # Building ---------------------------------------------------------------------------------------
    def commands(self) -> list[Command]:
        """Everything that builds the network, in order; run each as it is (none needs a shell)."""
        t = self.topology
        router = self.namespace(ROUTER)
        steps: list[Command] = []
        for namespace in self.namespaces():
            steps += [
                Command(("ip", "netns", "add", namespace)),
                Command(("ip", "-n", namespace, "link", "set", "lo", "up")),
            ]
        for link in t.links:
            leaf = t.host(link.host)
            leaf_ns, router_if = self.namespace(leaf.name), self.router_interface(link.name)
            gateway = self.router_address(link.network)
            steps += [
                Command(
                    ("ip", "-n", router, "link", "add", router_if, "type", "veth")
                    + ("peer", "name", LEAF_INTERFACE, "netns", leaf_ns)
                ),
                Command(("ip", "-n", router, "addr", "add", f"{gateway}/24", "dev", router_if)),
                Command(("ip", "-n", router, "link", "set", router_if, "up")),
            ]
            steps += [
                Command(("ip", "-n", leaf_ns, "addr", "add", f"{address}/24", "dev", LEAF_INTERFACE))
                for address in self.host_addresses(leaf)
            ]
            steps += [
                Command(("ip", "-n", leaf_ns, "link", "set", LEAF_INTERFACE, "up")),
                Command(("ip", "-n", leaf_ns, "route", "add", "default", "via", gateway)),
            ]
        # /proc/sys/net belongs to the namespace of whoever opens it (no need for procps' sysctl).
        steps.append(Command(("ip", "netns", "exec", router, "tee", "/proc/sys/net/ipv4/ip_forward"), "1\n"))
        steps.append(Command(("ip", "netns", "exec", router, "nft", "-f", "-"), FAULT_TABLES))
        for namespace, nameserver in self.resolv_confs().items():
            folder = f"{NETNS_ETC}/{namespace}"
            steps += [
                Command(("mkdir", "-p", folder)),
                Command(
                    ("tee", f"{folder}/resolv.conf"),
                    f"# the island resolver (Ödrift)\nnameserver {nameserver}\n",
                ),
            ]
        return steps

    def resolv_confs(self) -> dict[str, str]:
        """Each place's resolver: its island's. ``ip netns exec`` bind-mounts /etc/netns/NAME/resolv.conf."""
        t = self.topology
        return {
            self.place_namespace(place.name): self.addresses(place.island).resolver_address
            for place in t.places
        }


def _service_host(topology: Topology, service: str) -> str:
    for s in topology.services:
        if s.name == service:
            return s.host
    raise KeyError(f"no service {service!r}")
