"""Faults of a region that every backend running one makes the same way: the hub's nats-server
down, or one node of a hub cluster (a service held down, as the service faults do), and the hub
publishing a crisis message.
How an island's link is cut is each backend's own (local_faults.py, netns_faults.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from services.crisis_site.content import Info, Message
from services.crisis_site.store import Store
from services.region.subjects import HUB

from ..contract import HubDown, HubMessage, HubNodeDown, RegionLinkCut
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
        for service in region_of(backend).hub_services():
            await backend.processes.kill(service)

    async def heal(self, backend: RegionBackend, fault: HubDown) -> None:
        if backend.region is not None:  # together: a cluster's node is healthy once it sees the others
            specs = [backend.service_spec(service) for service in backend.region.hub_services()]
            await asyncio.gather(*(backend.processes.revive(spec) for spec in specs))


def hub_node_service(region: RegionLayout, node: str) -> str:
    if node not in region.hub_node_names():
        raise BackendError(
            f"the hub has no node {node}: it is one node (`island up --islands N --hub-nodes 3` makes "
            "a cluster of three; the hub-down fault takes down a hub of one)"
        )
    return region.nats_service(HUB, node)


class HubClusterNodeDown(FaultHandler[RegionBackend, HubNodeDown]):
    fault = HubNodeDown

    async def apply(self, backend: RegionBackend, fault: HubNodeDown) -> None:
        await backend.processes.kill(hub_node_service(region_of(backend), fault.node))

    async def heal(self, backend: RegionBackend, fault: HubNodeDown) -> None:
        if backend.region is not None and fault.node in backend.region.hub_node_names():
            await backend.processes.revive(backend.service_spec(hub_node_service(backend.region, fault.node)))


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


HANDLERS = (HubServerDown(), HubClusterNodeDown(), HubEditorMessage())
