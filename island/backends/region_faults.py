"""Faults of a region that every backend running one makes the same way: the hub's nats-server
down (a service held down, as the service faults do), and the hub publishing a crisis message.
How an island's link is cut is each backend's own (local_faults.py, netns_faults.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from services.crisis_site.content import Info, Message
from services.crisis_site.store import Store
from services.region.subjects import HUB

from ..contract import HubDown, HubMessage, RegionLinkCut
from ..service_specs import ServiceSpec
from .base import BackendError
from .faults import FaultHandler
from .processes import ProcessSupervisor
from .region import RegionLayout, database


class RegionBackend(Protocol):
    @property
    def region(self) -> RegionLayout | None: ...

    processes: ProcessSupervisor
    data_dir: Path

    def service_spec(self, name: str) -> ServiceSpec: ...


def region_of(backend: RegionBackend) -> RegionLayout:
    if backend.region is None:
        raise BackendError("this is one island, not a region: start one with `island up --islands N`")
    return backend.region


def islands_of(region: RegionLayout, fault: RegionLinkCut) -> list[str]:
    """The islands whose link the fault cuts: the one it names, or all."""
    if fault.island is None:
        return region.names()
    if fault.island not in region.names():
        raise BackendError(f"the region has no island {fault.island!r}; it has {', '.join(region.names())}")
    return [fault.island]


class HubServerDown(FaultHandler[RegionBackend, HubDown]):
    fault = HubDown

    async def apply(self, backend: RegionBackend, fault: HubDown) -> None:
        region_of(backend)
        await backend.processes.kill(f"nats-{HUB}")

    async def heal(self, backend: RegionBackend, fault: HubDown) -> None:
        if backend.region is not None:
            await backend.processes.revive(backend.service_spec(f"nats-{HUB}"))


class HubEditorMessage(FaultHandler[RegionBackend, HubMessage]):
    """Saved in the hub's site as its editors' page saves a message; the hub's replicator sends it on."""

    fault = HubMessage

    async def apply(self, backend: RegionBackend, fault: HubMessage) -> None:
        region_of(backend)
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

    async def heal(self, backend: RegionBackend, fault: HubMessage) -> None:
        pass  # a published message stays published


HANDLERS = (HubServerDown(), HubEditorMessage())
