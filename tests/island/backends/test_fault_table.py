"""A backend's fault table is the whole truth about what it can do: features come from it, apply and
heal look the fault up in it, and what is not in it is refused before anything happens."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from island.backends import LocalBackend, NetnsBackend
from island.backends.base import Backend, UnsupportedFault
from island.backends.compose import ComposeBackend
from island.backends.faults import FaultHandler, FaultTable, UplinkCutHandler
from island.contract import FAULT_TYPES, Bandwidth, Flapping, Outcome, PacketLoss, UplinkCut
from island.state import StateDir
from island.topology.local import local_addresses


class OnlyBlackhole(FaultHandler["Table", UplinkCut]):
    """A backend whose uplink can only go silent (say, no way to send resets)."""

    fault = UplinkCut

    def features(self) -> frozenset[str]:
        return frozenset({"uplink-cut:blackhole"})

    async def apply(self, backend: Table, fault: UplinkCut) -> None:
        backend.done.append(f"cut {fault.mode}")

    async def heal(self, backend: Table, fault: UplinkCut) -> None:
        backend.done.append("restore")


class Table(Backend):
    name = "table"
    faults = FaultTable([OnlyBlackhole()])

    def __init__(self, tmp: Path) -> None:
        super().__init__(StateDir(tmp), local_addresses(net="127.1"))
        self.done: list[str] = []

    async def start(self, say: Any) -> None: ...
    def is_running(self) -> bool:
        return True

    async def stop(self, say: Any) -> None: ...
    async def status(self) -> dict[str, Any]:
        return {}

    async def cut(self, mode: str) -> None: ...
    async def restore(self) -> None: ...
    async def uplink(self) -> str:
        return "up"

    async def probe(self, probe: Any) -> Outcome:
        return Outcome("ok", 0.0)


async def test_apply_and_heal_go_to_the_handler_of_the_fault_type(tmp_path: Path) -> None:
    backend = Table(tmp_path)
    await backend.apply(UplinkCut(type="uplink-cut"))
    await backend.heal(UplinkCut(type="uplink-cut"))
    assert backend.done == ["cut blackhole", "restore"]
    assert backend.features() == {"uplink-cut:blackhole", "place:trygghetspunkt-a"}


async def test_what_the_table_lacks_is_refused_naming_the_backend_and_healing_it_does_nothing(
    tmp_path: Path,
) -> None:
    backend = Table(tmp_path)
    with pytest.raises(UnsupportedFault, match="the table backend cannot apply the fault 'packet loss 5 %'"):
        await backend.apply(PacketLoss(type="packet-loss", percent=5))
    with pytest.raises(UnsupportedFault, match=r"uplink cut \(reject\)"):
        await backend.apply(UplinkCut(type="uplink-cut", mode="reject"))
    await backend.heal(PacketLoss(type="packet-loss", percent=5))  # rollbacks heal what was never on
    assert backend.done == []
    assert backend.missing([Bandwidth(type="bandwidth", kbit=64)]) == ["bandwidth 64 kbit/s (bandwidth)"]


def test_one_fault_type_has_one_handler_per_backend() -> None:
    with pytest.raises(ValueError, match="two handlers for the fault type 'uplink-cut'"):
        FaultTable([UplinkCutHandler(), OnlyBlackhole()])


def test_each_backends_features_are_its_table(tmp_path: Path) -> None:
    local, netns = LocalBackend(StateDir(tmp_path)), NetnsBackend(StateDir(tmp_path))
    compose = ComposeBackend.__new__(ComposeBackend)  # its features need no engine nor settings
    one_island = {"uplink-cut", "dns-cut", "packet-loss", "latency", "service"}
    region = {"region-link-cut", "hub-down", "hub-node-down", "hub-message"}  # local and netns, not compose
    assert local.faults.types() == one_island | region
    assert netns.faults.types() == local.faults.types() | {"bandwidth", "link-down", "partition"}
    assert compose.faults.types() == {"uplink-cut"}
    assert "service:pause" in local.features() and "place:home" in netns.features()
    # Every fault type but flapping (the engine drives it as uplink cuts) has a handler on netns.
    assert {t.type_name() for t in FAULT_TYPES} - netns.faults.types() == {Flapping.type_name()}
