"""The local backend's fault handlers: what the uplink relay does for each fault (see faults.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from services.crisis_site.content import Info, Message
from services.crisis_site.store import Store
from services.region.subjects import HUB

from ..contract import DNSCut, HubDown, HubMessage, Latency, PacketLoss, RegionLinkCut
from .base import BackendError
from .faults import FaultHandler
from .local_region import LocalRegion, database, link_socket
from .local_uplink import control

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


def _region(backend: LocalBackend) -> LocalRegion:
    if backend.region is None:
        raise BackendError("this is one island, not a region: start one with `island up --islands N`")
    return backend.region


class RegionLinkRelayCut(FaultHandler["LocalBackend", RegionLinkCut]):
    """An island's link relay refuses (its connections dropped, new ones refused): the leaf node's
    link is down, as a cut fibre; restored, the leaf node reconnects within a second."""

    fault = RegionLinkCut

    async def _set(self, backend: LocalBackend, fault: RegionLinkCut, mode: str) -> None:
        region = _region(backend)
        for island in [fault.island] if fault.island else region.names():
            if island not in region.names():
                raise BackendError(f"the region has no island {island!r}; it has {', '.join(region.names())}")
            reply = await control(link_socket(backend.state, island), {"mode": mode})
            if not reply.get("ok"):
                raise BackendError(f"island {island}'s link relay refused: {reply.get('error')}")

    async def apply(self, backend: LocalBackend, fault: RegionLinkCut) -> None:
        await self._set(backend, fault, "reject")

    async def heal(self, backend: LocalBackend, fault: RegionLinkCut) -> None:
        if backend.region is not None:
            await self._set(backend, fault, "up")


class HubServerDown(FaultHandler["LocalBackend", HubDown]):
    fault = HubDown

    async def apply(self, backend: LocalBackend, fault: HubDown) -> None:
        _region(backend)
        await backend.processes.kill(f"nats-{HUB}")

    async def heal(self, backend: LocalBackend, fault: HubDown) -> None:
        if backend.region is not None:
            await backend.processes.revive(backend.service_spec(f"nats-{HUB}"))


class HubEditorMessage(FaultHandler["LocalBackend", HubMessage]):
    """Saved in the hub's site as its editors' page saves a message; the hub's replicator sends it on."""

    fault = HubMessage

    async def apply(self, backend: LocalBackend, fault: HubMessage) -> None:
        _region(backend)
        now = datetime.now(UTC)
        message = Message(
            identifier=f"hub-{now.strftime('%Y%m%d%H%M%S%f')}",
            sender="Krisledningen",
            sent=now,
            area="Ödrift",
            info=[Info(headline=fault.headline, description="Från kommunens krisledning (scenario).")],
        )
        store = Store(str(database(backend.data_dir, HUB)))
        try:
            store.save_island_message(message, "scenario", "publish", "")
        finally:
            store.close()

    async def heal(self, backend: LocalBackend, fault: HubMessage) -> None:
        pass  # a published message stays published


HANDLERS = (
    RelayDNSCut(),
    RelayPacketLoss(),
    RelayLatency(),
    RegionLinkRelayCut(),
    HubServerDown(),
    HubEditorMessage(),
)
