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
from datetime import UTC, datetime
from typing import Any

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
from ..services import ServiceSpec
from ..state import StateDir
from ..topology import Addresses
from ..topology.model import ROUTER
from ..topology.netns import LEAF_INTERFACE, NetnsPlan
from . import _netns
from .base import BackendError, Say, UnsupportedFault
from .local import LocalBackend

PREFIX = "odr"


def tag_for(state: StateDir) -> str:
    return hashlib.sha1(str(state.path.resolve()).encode()).hexdigest()[:6]


class NetnsBackend(LocalBackend):
    name = "netns"

    def __init__(self, state: StateDir, topology: Addresses | None = None) -> None:
        self.plan = NetnsPlan(f"{PREFIX}{tag_for(state)}-")
        super().__init__(state, topology or self.plan.addresses())
        self.prefix = self.plan.prefix
        self._loops: dict[str, _netns.NamespaceLoop] = {}

    @property
    def browser_url(self) -> str | None:
        return None  # the island's addresses live in namespaces; the host has no route to them

    def ns(self, host: str) -> str:
        return self.plan.namespace(host)

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

    # Life cycle ---------------------------------------------------------------------------
    def _check_ports(self, specs: list[ServiceSpec]) -> None:
        pass  # fresh namespaces: nothing else can hold their ports

    def _argv(self, spec: ServiceSpec, config_path: str | None) -> list[str]:
        return ["ip", "netns", "exec", self.plan.service_namespace(spec.name), *spec.argv(config_path)]

    def _loop(self, namespace: str) -> _netns.NamespaceLoop:
        if namespace not in self._loops:
            self._loops[namespace] = _netns.NamespaceLoop(namespace)
        return self._loops[namespace]

    async def _health(self, spec: ServiceSpec) -> None:
        # From the router, which reaches every host.
        await asyncio.wait_for(self._loop(self.ns(ROUTER)).run(spec.health), 2.0)

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
            shorts = ",".join(name.removeprefix(self.prefix) for name in self.plan.namespaces())
            say(f"  made namespaces {self.prefix}{{{shorts}}} with routes via the router")
            await super().start(say)
        except BaseException:
            await self.stop(lambda _: None)
            raise
        phone = self.plan.place_namespace(next(iter(self.topology.places)))
        say(f"  a phone at a trygghetspunkt:  ip netns exec {phone} dig {self.topology.crisis_name}")
        say(f"                                ip netns exec {phone} curl http://{self.topology.crisis_name}/")

    def _build(self) -> None:
        # Recorded before they exist, so a crash half-way still leaves a list to clean.
        self.state.update(namespaces=self.plan.namespaces())
        for command in self.plan.commands():
            _netns.run(*command.argv, input=command.input)

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
            service["where"] += f" in {self.plan.service_namespace(name)}"
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
            self.ns(ROUTER),
            f"add chain {table} {name} {{ type {kind} hook {hook} priority {priority}; }}\n"
            f"flush chain {table} {name}\n{body}\n",
        )

    def _unchain(self, name: str, table: str = "inet odrift") -> None:
        _netns.nft(self.ns(ROUTER), f"delete chain {table} {name}\n", check=False)

    @property
    def _uplink_if(self) -> str:
        return self.plan.router_interface(self.plan.topology.uplink)

    def _cut_rules(self, mode: str, match: str) -> list[str]:
        up = self._uplink_if
        if mode == "blackhole":
            return [f'oifname "{up}" {match} drop', f'iifname "{up}" {match} drop']
        return [
            f'oifname "{up}" {match} meta l4proto tcp reject with tcp reset',
            f'oifname "{up}" {match} reject with icmpx type port-unreachable',
            f'iifname "{up}" {match} drop',
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
            rules += [f'iifname "{self._uplink_if}" {proto} sport 53 drop' for proto in ("udp", "tcp")]
            await asyncio.to_thread(self._chain, "dns_cut", rules)
        elif isinstance(fault, PacketLoss):
            await asyncio.to_thread(
                self._chain,
                "loss",
                [f'oifname "{self._uplink_if}" numgen random mod 100 < {fault.percent} drop'],
            )
        elif isinstance(fault, Partition):
            a, b = (self.plan.router_interface(p) for p in fault.between)
            await asyncio.to_thread(
                self._chain,
                "partition",
                [f'iifname "{a}" oifname "{b}" drop', f'iifname "{b}" oifname "{a}" drop'],
            )
        elif isinstance(fault, LinkDown):
            await asyncio.to_thread(
                _netns.run,
                "ip",
                "-n",
                self.ns(ROUTER),
                "link",
                "set",
                self.plan.router_interface(fault.link),
                "down",
            )
        elif isinstance(fault, Bandwidth):
            await asyncio.to_thread(self._tbf, fault.kbit)
        elif isinstance(fault, Latency):
            await self._relay({"delay_ms": fault.delay_ms, "jitter_ms": fault.jitter_ms})
            t = self.topology
            rules = [
                f"ip daddr {t.upstream_address} {proto} dport {{ {ports} }} dnat to {t.relay_address}"
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
                _netns.run,
                "ip",
                "-n",
                self.ns(ROUTER),
                "link",
                "set",
                self.plan.router_interface(fault.link),
                "up",
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
        upstream = self.plan.topology.link(self.plan.topology.uplink).host
        for namespace, device in ((self.ns(ROUTER), self._uplink_if), (self.ns(upstream), LEAF_INTERFACE)):
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
        loop = self._loop(self.plan.place_namespace(probe.place))
        prober = self._probers.get(probe.place)
        if prober is None:
            t = self.topology
            place = Place(t.resolver_address, t.dns_port, t.http_port, hosts=dict(t.places))
            prober = self._probers[probe.place] = await loop.run(lambda: _make_prober(place, t.crisis_name))
        return await loop.run(lambda: prober.run(probe))

    async def close_probes(self) -> None:
        probers, self._probers = self._probers, {}
        for place, prober in probers.items():
            loop = self._loops.get(self.plan.place_namespace(place))
            if loop is not None:
                await loop.run(prober.aclose)


async def _make_prober(place: Place, crisis_name: str) -> Prober:
    return Prober(place, crisis_name)


__all__ = ["NetnsBackend", "UnsupportedFault"]
