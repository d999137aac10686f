"""The netns backend's builder: a namespace per host, a veth per link, and the commands that make them.

Network number N is ``10.N.0.0/24``; the router is ``10.N.0.1`` on each, the uplink relay listens
on the router's internet leg (``10.1.0.1``), the upstream is ``10.1.0.2``, an island's resolver
and site ``.10`` and ``.11``, a phone or the hub ``.10`` (a hub cluster's three nodes ``.10`` to
``.12``). :meth:`NetnsPlan.commands` is a pure function of the topology: every `ip`, `nft` and
file write, in order, so what the backend does can be read (and repeated by hand) from this list.
"""

from __future__ import annotations

import ipaddress
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
class RealAddresses:
    """A site file's own addresses, used inside the namespaces (``island up --site``).

    The island host has the box's address (``island_address``, as a /32 behind the router); one
    place's network is the trygghetspunkt's Wi-Fi network, its phone on the first DHCP address and
    the router on a free one (answering ARP for the box's address, which the phones see on their
    network, as they do at the trygghetspunkt); the stadsnät's resolvers are the simulated internet's
    DNS server, translated in the router, so the island asks the addresses in its rendered configuration.
    """

    island_address: str
    place: str  # the place whose network is the Wi-Fi
    network: str
    phone_address: str
    router_address: str
    upstreams: tuple[str, ...]
    # The router's leg on the Wi-Fi takes the box's name for it (the site file's lan_interface), so the
    # rendered DHCP configuration (``interface=eth1``) runs unchanged in the router namespace.
    wifi_interface: str = "eth1"


@dataclass(frozen=True)
class NetnsPlan:
    prefix: str  # every namespace's name starts with it: ``odr<tag>-``
    topology: Topology = field(default_factory=standard)
    real: RealAddresses | None = None

    # Names ----------------------------------------------------------------------------------------
    def namespace(self, host: str) -> str:
        return self.prefix + self.topology.host(host).short

    def namespaces(self) -> list[str]:
        """The router's first: it is made first and holds the fault tables."""
        return [self.namespace(h.name) for h in self.topology.hosts]

    def router_interface(self, link: str) -> str:
        """The router's end of a link (its peer in the leaf is always eth0)."""
        if self.real is not None and link == self.real.place:
            return self.real.wifi_interface
        return "r-" + self.topology.host(self.topology.link(link).host).short

    def service_namespace(self, service: str) -> str:
        return self.namespace(_service_host(self.topology, service))

    def place_namespace(self, place: str) -> str:
        return self.namespace(self.topology.place(place).host)

    # Addresses --------------------------------------------------------------------------------------
    def _address(self, network: str, host: int) -> str:
        return f"10.{self.topology.network(network).number}.0.{host}"

    def router_address(self, network: str) -> str:
        if self._real_place(network):
            assert self.real is not None
            return self.real.router_address
        return self._address(network, ROUTER_HOST)

    def _real_place(self, network: str) -> bool:
        return self.real is not None and network == self.topology.place(self.real.place).host

    def _prefix_length(self, network: str) -> int:
        if self._real_place(network):
            assert self.real is not None
            return ipaddress.IPv4Network(self.real.network).prefixlen
        return 24

    def host_addresses(self, host: Host) -> list[str]:
        network = host.networks[0]
        if self.real is not None and host.role == "island":  # the box: its resolver and site on one address
            return [self.real.island_address]
        if self._real_place(network):
            assert self.real is not None
            return [self.real.phone_address]
        if host.role == "internet":
            return [self._address(network, UPSTREAM_HOST)]
        if host.role == "island":  # the resolver, then the site
            return [self._address(network, LEAF_HOST), self._address(network, LEAF_HOST + 1)]
        if host.role == "hub":  # one address per nats-server node; the first also the hub's site's
            return [self._address(network, LEAF_HOST + n) for n in range(len(self.topology.hub_nodes))]
        return [self._address(network, LEAF_HOST)]

    def addresses(self, island: str | None = None, crisis_name: str | None = None) -> Addresses:
        t = self.topology
        chosen = t.island(island)
        upstream = self.host_addresses(t.host(t.link(t.uplink).host))[0]
        box = self.host_addresses(t.host(chosen.host))
        resolver, site = box[0], box[-1]  # one address for both on a site file's box
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
            length = self._prefix_length(link.network)
            steps += [
                Command(
                    ("ip", "-n", router, "link", "add", router_if, "type", "veth")
                    + ("peer", "name", LEAF_INTERFACE, "netns", leaf_ns)
                ),
                Command(("ip", "-n", router, "addr", "add", f"{gateway}/{length}", "dev", router_if)),
                Command(("ip", "-n", router, "link", "set", router_if, "up")),
            ]
            if self.real is not None and leaf.role == "island":
                steps += self._real_island(router, router_if, leaf_ns, gateway)
                continue
            steps += [
                Command(("ip", "-n", leaf_ns, "addr", "add", f"{address}/{length}", "dev", LEAF_INTERFACE))
                for address in self.host_addresses(leaf)
            ]
            steps += [
                Command(("ip", "-n", leaf_ns, "link", "set", LEAF_INTERFACE, "up")),
                Command(("ip", "-n", leaf_ns, "route", "add", "default", "via", gateway)),
            ]
        # /proc/sys/net belongs to the namespace of whoever opens it (no need for procps' sysctl).
        steps.append(Command(("ip", "netns", "exec", router, "tee", "/proc/sys/net/ipv4/ip_forward"), "1\n"))
        steps.append(Command(("ip", "netns", "exec", router, "nft", "-f", "-"), FAULT_TABLES))
        if self.real is not None:
            steps += self._real_router(router)
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

    def real_conflicts(self) -> list[str]:
        """What of the site file's addresses the simulator's own networks already use; empty when none."""
        if self.real is None:
            return []
        wifi = ipaddress.IPv4Network(self.real.network)
        problems = []
        for network in self.topology.networks:
            if network.name == self.topology.place(self.real.place).host:
                continue
            simulated = ipaddress.IPv4Network(f"{self._address(network.name, 0)}/24")
            if wifi.overlaps(simulated):
                problems.append(
                    f"the Wi-Fi network {wifi} overlaps the simulator's {network.name} network {simulated}"
                )
            for upstream in self.real.upstreams:
                address = ipaddress.ip_address(upstream)
                if address.version != 4:
                    continue
                if address in simulated:
                    problems.append(
                        f"the upstream {upstream} is in the simulator's {network.name} network {simulated}"
                    )
        problems += [
            f"the upstream {u} is IPv6; the simulated stadsnät has IPv4 only"
            for u in self.real.upstreams
            if ipaddress.ip_address(u).version != 4
        ]
        return list(dict.fromkeys(problems))

    def _real_island(self, router: str, router_if: str, island_ns: str, gateway: str) -> list[Command]:
        """The box's address alone on the island host (a /32), reached through the router's island leg."""
        assert self.real is not None
        address = self.real.island_address
        return [
            Command(("ip", "-n", island_ns, "addr", "add", f"{address}/32", "dev", LEAF_INTERFACE)),
            Command(("ip", "-n", island_ns, "link", "set", LEAF_INTERFACE, "up")),
            Command(("ip", "-n", island_ns, "route", "add", gateway, "dev", LEAF_INTERFACE, "scope", "link")),
            Command(("ip", "-n", island_ns, "route", "add", "default", "via", gateway)),
            Command(("ip", "-n", router, "route", "add", f"{address}/32", "dev", router_if)),
        ]

    def _real_router(self, router: str) -> list[Command]:
        """Proxy ARP for the box on the Wi-Fi leg; the stadsnät's resolvers translated to the internet's DNS.

        A DHCP server for the phones runs here too, on the Wi-Fi leg, with the rendered configuration."""
        assert self.real is not None
        wifi_if = self.router_interface(self.real.place)
        steps = [
            Command(
                ("ip", "netns", "exec", router, "tee", f"/proc/sys/net/ipv4/conf/{wifi_if}/proxy_arp"), "1\n"
            ),
            # At once: by default a proxy answer waits 0.8 s, which a box on the Wi-Fi itself never does.
            Command(
                ("ip", "netns", "exec", router, "tee", f"/proc/sys/net/ipv4/neigh/{wifi_if}/proxy_delay"),
                "0\n",
            ),
        ]
        upstreams = [u for u in self.real.upstreams if ipaddress.ip_address(u).version == 4]
        if upstreams:
            internet = self.host_addresses(self.topology.host(self.topology.link(self.topology.uplink).host))[
                0
            ]
            steps.append(
                Command(
                    ("ip", "netns", "exec", router, "nft", "-f", "-"),
                    "add table ip odrift_site\n"
                    "add chain ip odrift_site stadsnat { type nat hook prerouting priority dstnat; }\n"
                    f"add rule ip odrift_site stadsnat ip daddr {{ {', '.join(upstreams)} }} dnat to {internet}\n",
                )
            )
        return steps

    def resolv_confs(self) -> dict[str, str]:
        """Each place's resolver: its island's. ``ip netns exec`` bind-mounts /etc/netns/NAME/resolv.conf."""
        t = self.topology
        confs = {
            self.place_namespace(place.name): self.addresses(place.island).resolver_address
            for place in t.places
        }
        if self.real is not None:
            # The box asks its own resolver, as an installed box does: the names of the municipality's
            # certificate service and feed, forwarded to the stadsnät's resolvers while connected.
            island = next(h for h in t.hosts if h.role == "island")
            confs[self.namespace(island.name)] = "127.0.0.1"
        return confs


def _service_host(topology: Topology, service: str) -> str:
    for s in topology.services:
        if s.name == service:
            return s.host
    raise KeyError(f"no service {service!r}")
