"""The netns backend's fault handlers: nftables chains, links and token buckets in the router (see faults.py).

One base chain per fault in the router's ``inet odrift`` table, so healing one is deleting its
chain; ``tc`` token buckets for a thin uplink; the router's interfaces set down for a pulled
cable; and for latency the uplink relay, which the router DNATs the internet's traffic to
(this kernel has no netem).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from ..contract import Bandwidth, DNSCut, Latency, LinkDown, PacketLoss, Partition, RegionLinkCut
from ..topology.model import ROUTER, STADSNAT
from ..topology.netns import LEAF_INTERFACE
from . import _netns, region_faults
from .faults import FaultHandler
from .region_faults import islands_of, region_of

if TYPE_CHECKING:
    from .netns import NetnsBackend


def chain(
    backend: NetnsBackend,
    name: str,
    rules: list[str],
    hook: str = "forward",
    table: str = "inet odrift",
    kind: str = "filter",
    priority: int = 0,
) -> None:
    body = "\n".join(f"add rule {table} {name} {rule}" for rule in rules)
    _netns.nft(
        backend.ns(ROUTER),
        f"add chain {table} {name} {{ type {kind} hook {hook} priority {priority}; }}\n"
        f"flush chain {table} {name}\n{body}\n",
    )


def unchain(backend: NetnsBackend, name: str, table: str = "inet odrift") -> None:
    _netns.nft(backend.ns(ROUTER), f"delete chain {table} {name}\n", check=False)


def uplink_interface(backend: NetnsBackend) -> str:
    return backend.plan.router_interface(backend.plan.topology.uplink)


def cut_rules(backend: NetnsBackend, mode: str, match: str) -> list[str]:
    """Drop (blackhole) or refuse (reject) what crosses the uplink and matches ``match``."""
    up = uplink_interface(backend)
    if mode == "blackhole":
        return [f'oifname "{up}" {match} drop', f'iifname "{up}" {match} drop']
    return [
        f'oifname "{up}" {match} meta l4proto tcp reject with tcp reset',
        f'oifname "{up}" {match} reject with icmpx type port-unreachable',
        f'iifname "{up}" {match} drop',
    ]


class ChainDNSCut(FaultHandler["NetnsBackend", DNSCut]):
    fault = DNSCut

    async def apply(self, backend: NetnsBackend, fault: DNSCut) -> None:
        rules = [r for proto in ("udp", "tcp") for r in cut_rules(backend, fault.mode, f"{proto} dport 53")]
        up = uplink_interface(backend)
        rules += [f'iifname "{up}" {proto} sport 53 drop' for proto in ("udp", "tcp")]
        await asyncio.to_thread(chain, backend, "dns_cut", rules)

    async def heal(self, backend: NetnsBackend, fault: DNSCut) -> None:
        await asyncio.to_thread(unchain, backend, "dns_cut")


class ChainPacketLoss(FaultHandler["NetnsBackend", PacketLoss]):
    fault = PacketLoss

    async def apply(self, backend: NetnsBackend, fault: PacketLoss) -> None:
        rule = f'oifname "{uplink_interface(backend)}" numgen random mod 100 < {fault.percent} drop'
        await asyncio.to_thread(chain, backend, "loss", [rule])

    async def heal(self, backend: NetnsBackend, fault: PacketLoss) -> None:
        await asyncio.to_thread(unchain, backend, "loss")


class ChainPartition(FaultHandler["NetnsBackend", Partition]):
    fault = Partition

    async def apply(self, backend: NetnsBackend, fault: Partition) -> None:
        a, b = (backend.plan.router_interface(p) for p in fault.between)
        rules = [f'iifname "{a}" oifname "{b}" drop', f'iifname "{b}" oifname "{a}" drop']
        await asyncio.to_thread(chain, backend, "partition", rules)

    async def heal(self, backend: NetnsBackend, fault: Partition) -> None:
        await asyncio.to_thread(unchain, backend, "partition")


class ChainRegionLinkCut(FaultHandler["NetnsBackend", RegionLinkCut]):
    """Nothing crosses the router between an island's network and the stadsnät, where the hub is;
    TCP is answered with a reset, so the leaf node sees its link go at its next packet (a silent
    drop would leave it waiting for its ping timeout)."""

    fault = RegionLinkCut

    @staticmethod
    def _name(fault: RegionLinkCut) -> str:
        return f"region_link_{fault.island or 'all'}"

    async def apply(self, backend: NetnsBackend, fault: RegionLinkCut) -> None:
        hub = backend.plan.router_interface(STADSNAT)
        rules = []
        for island in islands_of(region_of(backend), fault):
            own = backend.plan.router_interface(backend.plan.topology.island(island).link)
            for a, b in ((own, hub), (hub, own)):
                rules += [
                    f'iifname "{a}" oifname "{b}" meta l4proto tcp reject with tcp reset',
                    f'iifname "{a}" oifname "{b}" drop',
                ]
        await asyncio.to_thread(chain, backend, self._name(fault), rules)

    async def heal(self, backend: NetnsBackend, fault: RegionLinkCut) -> None:
        await asyncio.to_thread(unchain, backend, self._name(fault))


class RouterLinkDown(FaultHandler["NetnsBackend", LinkDown]):
    fault = LinkDown

    async def apply(self, backend: NetnsBackend, fault: LinkDown) -> None:
        await asyncio.to_thread(_set_link, backend, fault.link, "down")

    async def heal(self, backend: NetnsBackend, fault: LinkDown) -> None:
        await asyncio.to_thread(_set_link, backend, fault.link, "up")


def _set_link(backend: NetnsBackend, link: str, state: str) -> None:
    _netns.run("ip", "-n", backend.ns(ROUTER), "link", "set", backend.plan.router_interface(link), state)


class TokenBucketBandwidth(FaultHandler["NetnsBackend", Bandwidth]):
    fault = Bandwidth

    async def apply(self, backend: NetnsBackend, fault: Bandwidth) -> None:
        await asyncio.to_thread(_tbf, backend, fault.kbit)

    async def heal(self, backend: NetnsBackend, fault: Bandwidth) -> None:
        await asyncio.to_thread(_tbf, backend, None)


def _tbf(backend: NetnsBackend, kbit: int | None) -> None:
    """Both directions of the uplink: the router towards the internet, the internet towards the router."""
    upstream = backend.plan.topology.link(backend.plan.topology.uplink).host
    ends = ((backend.ns(ROUTER), uplink_interface(backend)), (backend.ns(upstream), LEAF_INTERFACE))
    for namespace, device in ends:
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


class RelayLatency(FaultHandler["NetnsBackend", Latency]):
    """The relay in the router holds answers back; the router sends the internet's traffic through it."""

    fault = Latency

    async def apply(self, backend: NetnsBackend, fault: Latency) -> None:
        await backend.relay.configure(delay_ms=fault.delay_ms, jitter_ms=fault.jitter_ms)
        t = backend.addresses
        rules = [
            f"ip daddr {t.upstream_address} {proto} dport {{ {ports} }} dnat to {t.relay_address}"
            for proto, ports in (("udp", t.dns_port), ("tcp", f"{t.dns_port}, {t.http_port}"))
        ]
        await asyncio.to_thread(chain, backend, "latency", rules, "prerouting", "ip odrift_nat", "nat", -100)

    async def heal(self, backend: NetnsBackend, fault: Latency) -> None:
        await asyncio.to_thread(unchain, backend, "latency", "ip odrift_nat")
        await backend.relay.configure(delay_ms=0.0, jitter_ms=0.0)


HANDLERS = (
    ChainDNSCut(),
    ChainPacketLoss(),
    ChainPartition(),
    RouterLinkDown(),
    TokenBucketBandwidth(),
    RelayLatency(),
    ChainRegionLinkCut(),
    *region_faults.HANDLERS,
)
