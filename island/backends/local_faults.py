"""The local backend's fault handlers: what the uplink relay does for each fault (see faults.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..contract import DNSCut, Latency, PacketLoss
from .faults import FaultHandler

if TYPE_CHECKING:
    from .local import LocalBackend


class RelayDNSCut(FaultHandler["LocalBackend", DNSCut]):
    fault = DNSCut

    async def apply(self, backend: LocalBackend, fault: DNSCut) -> None:
        await backend.relay.configure(dns_mode=fault.mode)

    async def heal(self, backend: LocalBackend, fault: DNSCut) -> None:
        await backend.relay.configure(dns_mode="up")


class RelayPacketLoss(FaultHandler["LocalBackend", PacketLoss]):
    fault = PacketLoss

    async def apply(self, backend: LocalBackend, fault: PacketLoss) -> None:
        await backend.relay.configure(loss=fault.percent)

    async def heal(self, backend: LocalBackend, fault: PacketLoss) -> None:
        await backend.relay.configure(loss=0)


class RelayLatency(FaultHandler["LocalBackend", Latency]):
    fault = Latency

    async def apply(self, backend: LocalBackend, fault: Latency) -> None:
        await backend.relay.configure(delay_ms=fault.delay_ms, jitter_ms=fault.jitter_ms)

    async def heal(self, backend: LocalBackend, fault: Latency) -> None:
        await backend.relay.configure(delay_ms=0.0, jitter_ms=0.0)


HANDLERS = (RelayDNSCut(), RelayPacketLoss(), RelayLatency())
