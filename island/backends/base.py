"""The one interface every backend implements: start, stop, cut, restore, exec a probe.

The scenario engine only ever talks to this interface; how a cut is made (a
relay that goes silent, an nftables rule, a container's router) stays inside
each backend.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any, ClassVar

from ..probes import Outcome
from ..scenario.model import Fault, Probe, UplinkCut
from ..state import StateDir
from ..topology import Topology

Say = Callable[[str], None]


class BackendError(RuntimeError):
    """Something the person running the island must act on; the message says what to do."""


class UnsupportedFault(BackendError):
    pass


class Backend(abc.ABC):
    name: ClassVar[str]
    faults: ClassVar[frozenset[str]] = frozenset({"uplink-cut"})

    def __init__(self, state: StateDir, topology: Topology) -> None:
        self.state = state
        self.topology = topology

    # Life cycle ---------------------------------------------------------------
    @abc.abstractmethod
    async def start(self, say: Say) -> None:
        """Start every service and return once each is healthy."""

    @abc.abstractmethod
    def is_running(self) -> bool:
        """Whether anything this backend started is still running."""

    @abc.abstractmethod
    async def stop(self, say: Say) -> None:
        """Stop everything this backend started and leave nothing behind."""

    @abc.abstractmethod
    async def status(self) -> dict[str, Any]:
        """Backend-specific details for ``island status``."""

    # The uplink -------------------------------------------------------------------
    @abc.abstractmethod
    async def cut(self, mode: str) -> None:
        """Cut the uplink: ``blackhole`` (silent) or ``reject`` (fast failure)."""

    @abc.abstractmethod
    async def restore(self) -> None:
        """Heal the uplink."""

    @abc.abstractmethod
    async def uplink(self) -> str:
        """``up``, or the mode of the cut."""

    # Probes -----------------------------------------------------------------------
    @abc.abstractmethod
    async def probe(self, probe: Probe) -> Outcome:
        """Run one probe operation from the resident's place on the island."""

    async def close_probes(self) -> None:
        """Release what probing needed."""

    # Faults, in terms of the operations above ----------------------------------------
    def check_faults(self, faults: list[Fault]) -> None:
        for fault in faults:
            if fault.type not in self.faults:
                raise UnsupportedFault(
                    f"the {self.name} backend cannot apply the fault {fault.type!r}; "
                    f"it can do: {', '.join(sorted(self.faults))}"
                )

    async def apply(self, fault: Fault) -> None:
        if isinstance(fault, UplinkCut):
            await self.cut(fault.mode)
        else:  # pragma: no cover - check_faults refuses these before a run
            raise UnsupportedFault(f"fault {fault.type!r} is not supported by the {self.name} backend")

    async def heal(self, fault: Fault) -> None:
        if isinstance(fault, UplinkCut):
            await self.restore()
