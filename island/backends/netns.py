"""The netns backend: the island network as real hosts in Linux network namespaces (root only).

    upstream ns   10.1.0.2    the simulated internet (DNS 53, web 80)
        | r-up (the uplink: cut, lossy, thin or slow here)
    router ns     10.1.0.1 / 10.3.0.1 / 10.4.0.1 / 10.5.0.1 / 10.6.0.1, forwarding, nftables
        | r-isl          | r-tpa                | r-tpb                | r-home
    island ns      trygghetspunkt-a ns     trygghetspunkt-b ns     home ns (a stadsnät subscriber)
    resolver 10.3.0.10:53, site 10.3.0.11:80;  phones 10.4.0.10, 10.5.0.10, 10.6.0.10

Every namespace name starts with ``odr<tag>-``, the tag derived from the state folder, so two
islands (two test runs) never meet, and ``island down`` finds what a crashed run left by prefix.
Faults are nftables chains in the router (one base chain per fault, so healing one is deleting
its chain), ``tc`` token buckets, links set down, and a user-space delay relay (this kernel has
no netem) that the router DNATs the internet's traffic to while latency is on.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from datetime import UTC, datetime
from typing import Any

from services.upstream.pebble import public_ca

from ..probes import Outcome, Place, Prober
from ..scenario.model import (
    PLACES,
    Bandwidth,
    DNSCut,
    Fault,
    Latency,
    LinkDown,
    PacketLoss,
    Partition,
    Probe,
    UplinkCut,
)
from ..services import ServiceSpec, island_services
from ..state import StateDir
from ..topology import Topology
from . import _netns
from .base import BackendError, Say, UnsupportedFault
from .local import LocalBackend

PREFIX = "odr"
# Which namespace each process runs in, and each place's namespace.
_SERVICE_NS = {"upstream": "up", "uplink": "rt", "resolver": "isl", "site": "isl"}
_PLACE_NS = {"trygghetspunkt-a": "tpa", "trygghetspunkt-b": "tpb", "home": "home"}
# Router-side interface of each link.
_LINKS = {
    "uplink": "r-up",
    "island": "r-isl",
    "trygghetspunkt-a": "r-tpa",
    "trygghetspunkt-b": "r-tpb",
    "home": "r-home",
}
_SUBNETS = {"up": 1, "isl": 3, "tpa": 4, "tpb": 5, "home": 6}
_LEAF_ADDRESSES = {
    "up": ["10.1.0.2"],
    "isl": ["10.3.0.10", "10.3.0.11"],
    "tpa": ["10.4.0.10"],
    "tpb": ["10.5.0.10"],
    "home": ["10.6.0.10"],
}
_ROUTER_IF = {"up": "r-up", "isl": "r-isl", "tpa": "r-tpa", "tpb": "r-tpb", "home": "r-home"}


def tag_for(state: StateDir) -> str:
    return hashlib.sha1(str(state.path.resolve()).encode()).hexdigest()[:6]


def netns_topology() -> Topology:
    return Topology(
        crisis_name=os.environ.get("ISLAND_CRISIS_NAME", "krisinfo.kommun.example"),
        upstream_address="10.1.0.2",
        uplink_address="10.1.0.1",
        resolver_address="10.3.0.10",
        site_address="10.3.0.11",
        resident_address="10.4.0.10",
        dns_port=53,
        http_port=80,
        places={"trygghetspunkt-a": "10.4.0.10", "trygghetspunkt-b": "10.5.0.10", "home": "10.6.0.10"},
    )


class NetnsBackend(LocalBackend):
    name = "netns"

    def __init__(self, state: StateDir, topology: Topology | None = None) -> None:
        super().__init__(state, topology or netns_topology())
        self.prefix = f"{PREFIX}{tag_for(state)}-"
        self._loops: dict[str, _netns.NamespaceLoop] = {}

    @property
    def browser_url(self) -> str | None:
        return None  # the island's addresses live in namespaces; the host has no route to them

    def ns(self, short: str) -> str:
        return self.prefix + short

    def features(self) -> frozenset[str]:
        return frozenset(
            {
                "uplink-cut:blackhole",
                "uplink-cut:reject",
                "dns-cut",
                "packet-loss",
                "latency",
                "bandwidth",
                "link-down",
                "partition",
                "service:kill",
                "service:restart",
                "service:pause",
                *(f"place:{p}" for p in PLACES),
            }
        )

    @classmethod
    def clean_leftovers(cls, state: StateDir) -> list[str]:
        prefix = f"{PREFIX}{tag_for(state)}-"
        found = _netns.existing(prefix)
        for namespace in found:
            _netns.remove(namespace)
        return found

    def specs(self) -> list[ServiceSpec]:
        # The island reaches the internet by its real address, through the router: no relay in the way.
        # The relay still runs in the router, idle until latency DNATs the uplink's traffic to it.
        upstream, uplink, resolver, site = super().specs()
        upstream, resolver, site = island_services(
            self.topology, internet_address=self.topology.upstream_address
        )
        return [upstream, uplink, resolver, site]

    # Life cycle ---------------------------------------------------------------------------
    def _check_ports(self, specs: list[ServiceSpec]) -> None:
        pass  # fresh namespaces: nothing else can hold their ports

    def _argv(self, spec: ServiceSpec, config_path: str | None) -> list[str]:
        return ["ip", "netns", "exec", self.ns(_SERVICE_NS[spec.name]), *spec.argv(config_path)]

    def _loop(self, short: str) -> _netns.NamespaceLoop:
        if short not in self._loops:
            self._loops[short] = _netns.NamespaceLoop(self.ns(short))
        return self._loops[short]

    async def _health(self, spec: ServiceSpec) -> None:
        # From the router, which reaches every host.
        await asyncio.wait_for(self._loop("rt").run(spec.health), 2.0)

    async def start(self, say: Say) -> None:
        reason = _netns.unavailable_reason()
        if reason:
            raise BackendError(reason)
        self.clean_leftovers(self.state)
        self.state.write(
            {
                "backend": self.name,
                "topology": self.topology.to_dict(),
                "namespaces": [],
                "processes": {},
                "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "uplink": "up",
            }
        )
        try:
            await asyncio.to_thread(self._build)
            say(f"  made namespaces {self.prefix}{{up,rt,isl,tpa,tpb,home}} with routes via the router")
            await super().start(say)
        except BaseException:
            await self.stop(lambda _: None)
            raise
        say(f"  a phone at a trygghetspunkt:  ip netns exec {self.ns('tpa')} dig {self.topology.crisis_name}")
        say(
            f"                                ip netns exec {self.ns('tpa')} curl http://{self.topology.crisis_name}/"
        )

    def _build(self) -> None:
        router = self.ns("rt")
        names = [self.ns(s) for s in ("rt", *_SUBNETS)]
        for namespace in names:
            # Recorded before it exists, so a crash half-way still leaves a list to clean.
            self.state.update(namespaces=names)
            _netns.run("ip", "netns", "add", namespace)
            _netns.run("ip", "-n", namespace, "link", "set", "lo", "up")
        for short, subnet in _SUBNETS.items():
            leaf, router_if = self.ns(short), _ROUTER_IF[short]
            _netns.run(
                "ip",
                "-n",
                router,
                "link",
                "add",
                router_if,
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "netns",
                leaf,
            )
            _netns.run("ip", "-n", router, "addr", "add", f"10.{subnet}.0.1/24", "dev", router_if)
            _netns.run("ip", "-n", router, "link", "set", router_if, "up")
            for address in _LEAF_ADDRESSES[short]:
                _netns.run("ip", "-n", leaf, "addr", "add", f"{address}/24", "dev", "eth0")
            _netns.run("ip", "-n", leaf, "link", "set", "eth0", "up")
            _netns.run("ip", "-n", leaf, "route", "add", "default", "via", f"10.{subnet}.0.1")
        # /proc/sys/net belongs to the namespace of whoever opens it (no need for procps' sysctl).
        _netns.run("ip", "netns", "exec", router, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward")
        _netns.nft(router, "add table inet odrift\nadd table ip odrift_nat\n")
        for short in _PLACE_NS.values():
            _netns.write_resolv_conf(self.ns(short), self.topology.resolver_address)

    async def stop(self, say: Say) -> None:
        await super().stop(say)  # processes first (and the state folder)
        for loop in self._loops.values():
            loop.close()
        self._loops.clear()
        removed = await asyncio.to_thread(self.clean_leftovers, self.state)
        if removed:
            say(f"  removed namespaces {', '.join(removed)}")

    async def status(self) -> dict[str, Any]:
        services = await super().status()
        for name, service in services.items():
            service["where"] += f" in {self.ns(_SERVICE_NS[name])}"
        return services

    # The uplink and other faults ----------------------------------------------------------------
    def _chain(
        self,
        name: str,
        rules: list[str],
        hook: str = "forward",
        table: str = "inet odrift",
        kind: str = "filter",
        priority: int = 0,
    ) -> None:
        body = "\n".join(f"add rule {table} {name} {rule}" for rule in rules)
        _netns.nft(
            self.ns("rt"),
            f"add chain {table} {name} {{ type {kind} hook {hook} priority {priority}; }}\n"
            f"flush chain {table} {name}\n{body}\n",
        )

    def _unchain(self, name: str, table: str = "inet odrift") -> None:
        _netns.nft(self.ns("rt"), f"delete chain {table} {name}\n", check=False)

    @staticmethod
    def _cut_rules(mode: str, match: str) -> list[str]:
        if mode == "blackhole":
            return [f'oifname "r-up" {match} drop', f'iifname "r-up" {match} drop']
        return [
            f'oifname "r-up" {match} meta l4proto tcp reject with tcp reset',
            f'oifname "r-up" {match} reject with icmpx type port-unreachable',
            f'iifname "r-up" {match} drop',
        ]

    async def cut(self, mode: str) -> None:
        await asyncio.to_thread(self._chain, "uplink_cut", self._cut_rules(mode, ""))
        self.state.update(uplink=mode)

    async def restore(self) -> None:
        await asyncio.to_thread(self._unchain, "uplink_cut")
        self.state.update(uplink="up")

    async def uplink(self) -> str:
        return (self.state.read() or {}).get("uplink", "unknown")

    async def apply(self, fault: Fault) -> None:
        if isinstance(fault, UplinkCut):
            await self.cut(fault.mode)
        elif isinstance(fault, DNSCut):
            rules = [r for proto in ("udp", "tcp") for r in self._cut_rules(fault.mode, f"{proto} dport 53")]
            rules += [f'iifname "r-up" {proto} sport 53 drop' for proto in ("udp", "tcp")]
            await asyncio.to_thread(self._chain, "dns_cut", rules)
        elif isinstance(fault, PacketLoss):
            await asyncio.to_thread(
                self._chain, "loss", [f'oifname "r-up" numgen random mod 100 < {fault.percent} drop']
            )
        elif isinstance(fault, Partition):
            a, b = (_LINKS[p] for p in fault.between)
            await asyncio.to_thread(
                self._chain,
                "partition",
                [f'iifname "{a}" oifname "{b}" drop', f'iifname "{b}" oifname "{a}" drop'],
            )
        elif isinstance(fault, LinkDown):
            await asyncio.to_thread(
                _netns.run, "ip", "-n", self.ns("rt"), "link", "set", _LINKS[fault.link], "down"
            )
        elif isinstance(fault, Bandwidth):
            await asyncio.to_thread(self._tbf, fault.kbit)
        elif isinstance(fault, Latency):
            await self._relay({"delay_ms": fault.delay_ms, "jitter_ms": fault.jitter_ms})
            t = self.topology
            rules = [
                f"ip daddr {t.upstream_address} {proto} dport {{ {ports} }} dnat to {t.uplink_address}"
                for proto, ports in (("udp", t.dns_port), ("tcp", f"{t.dns_port}, {t.http_port}"))
            ]
            await asyncio.to_thread(self._chain, "latency", rules, "prerouting", "ip odrift_nat", "nat", -100)
        else:
            await super().apply(fault)  # service faults

    async def heal(self, fault: Fault) -> None:
        if isinstance(fault, UplinkCut):
            await self.restore()
        elif isinstance(fault, (DNSCut, PacketLoss, Partition)):
            chain = {DNSCut: "dns_cut", PacketLoss: "loss", Partition: "partition"}[type(fault)]
            await asyncio.to_thread(self._unchain, chain)
        elif isinstance(fault, LinkDown):
            await asyncio.to_thread(
                _netns.run, "ip", "-n", self.ns("rt"), "link", "set", _LINKS[fault.link], "up"
            )
        elif isinstance(fault, Bandwidth):
            await asyncio.to_thread(self._tbf, None)
        elif isinstance(fault, Latency):
            await asyncio.to_thread(self._unchain, "latency", "ip odrift_nat")
            await self._relay({"delay_ms": 0.0, "jitter_ms": 0.0})
        else:
            await super().heal(fault)

    def _tbf(self, kbit: int | None) -> None:
        """Both directions of the uplink: the router towards the internet, the internet towards the router."""
        for namespace, device in ((self.ns("rt"), "r-up"), (self.ns("up"), "eth0")):
            if kbit is None:
                _netns.run("tc", "-n", namespace, "qdisc", "del", "dev", device, "root", check=False)
            else:
                burst = max(3000, kbit * 1000 // 8 // 10)  # 100 ms worth, at least two full packets
                _netns.run(
                    "tc",
                    "-n",
                    namespace,
                    "qdisc",
                    "replace",
                    "dev",
                    device,
                    "root",
                    "tbf",
                    "rate",
                    f"{kbit}kbit",
                    "burst",
                    str(burst),
                    "latency",
                    "1s",
                )

    # Probes: from a phone in the place's own namespace -----------------------------------------
    async def probe(self, probe: Probe) -> Outcome:
        loop = self._loop(_PLACE_NS[probe.place])
        prober = self._probers.get(probe.place)
        if prober is None:
            t = self.topology
            place = Place(
                t.resolver_address,
                t.dns_port,
                t.http_port,
                hosts=dict(t.places),
                ca_file=public_ca(self.state.path),
            )
            prober = self._probers[probe.place] = await loop.run(lambda: _make_prober(place, t.crisis_name))
        return await loop.run(lambda: prober.run(probe))

    async def close_probes(self) -> None:
        probers, self._probers = self._probers, {}
        for place, prober in probers.items():
            loop = self._loops.get(_PLACE_NS[place])
            if loop is not None:
                await loop.run(prober.aclose)


async def _make_prober(place: Place, crisis_name: str) -> Prober:
    return Prober(place, crisis_name)


__all__ = ["NetnsBackend", "UnsupportedFault"]
