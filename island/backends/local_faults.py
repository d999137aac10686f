"""The local backend's fault handlers: what the uplink relay does for each fault (see faults.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..contract import DNSCut, Latency, PacketLoss, RegionLinkCut
from . import region_faults
from .base import BackendError
from .faults import FaultHandler
from .local_uplink import control
from .region import link_socket
from .region_faults import region_of

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


class RegionLinkRelayCut(FaultHandler["LocalBackend", RegionLinkCut]):
    """An island's link relay refuses (its connections dropped, new ones refused): the leaf node's
    link is down, as a cut fibre; restored, the leaf node reconnects within a second."""

    fault = RegionLinkCut

    async def _set(self, backend: LocalBackend, fault: RegionLinkCut, mode: str) -> None:
        for island in region_faults.islands_of(region_of(backend), fault):
            reply = await control(link_socket(backend.state, island), {"mode": mode})
            if not reply.get("ok"):
                raise BackendError(f"island {island}'s link relay refused: {reply.get('error')}")

    async def apply(self, backend: LocalBackend, fault: RegionLinkCut) -> None:
        await self._set(backend, fault, "reject")

    async def heal(self, backend: LocalBackend, fault: RegionLinkCut) -> None:
        if backend.region is not None:
            await self._set(backend, fault, "up")


HANDLERS = (
    RelayDNSCut(),
    RelayPacketLoss(),
    RelayLatency(),
    RegionLinkRelayCut(),
    *region_faults.HANDLERS,
)
