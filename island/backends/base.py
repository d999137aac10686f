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
from ..scenario.model import Fault, Probe, Scenario, UplinkCut
from ..state import StateDir
from ..topology import Addresses

Say = Callable[[str], None]


class BackendError(RuntimeError):
    """Something the person running the island must act on; the message says what to do."""


class UnsupportedFault(BackendError):
    pass


class Backend(abc.ABC):
    name: ClassVar[str]
    faults: ClassVar[frozenset[str]] = frozenset({"uplink-cut"})

    def __init__(self, state: StateDir, topology: Addresses) -> None:
        self.state = state
        self.topology = topology

    # Where a person reaches the island from: the crisis page from this machine's browser (None
    # when only hosts inside the island network can), and the page by name as a resident opens it.
    @property
    def browser_url(self) -> str | None:
        return self.topology.site_url

    @property
    def resident_url(self) -> str:
        return self.topology.crisis_url

    # Life cycle ---------------------------------------------------------------
    @classmethod
    def clean_leftovers(cls, state: StateDir) -> list[str]:
        """Remove what a crashed run of this backend left outside the state folder; names what it removed."""
        return []

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

    async def close_probes(self) -> None:  # noqa: B027 - optional: most backends hold nothing
        """Release what probing needed."""

    # Faults ---------------------------------------------------------------------------------
    def features(self) -> frozenset[str]:
        """What this backend can do, in the terms of ``Fault.feature`` and ``place:NAME``.

        By default derived from ``faults`` (fault types), so a backend that only cuts the uplink
        needs to say nothing more.
        """
        features = {"place:trygghetspunkt-a"}
        for fault in self.faults:
            if fault == "uplink-cut":
                features |= {"uplink-cut:blackhole", "uplink-cut:reject"}
            else:
                features.add(fault)
        return frozenset(features)

    def missing(self, faults: list[Fault], requires: set[str] = frozenset()) -> list[str]:
        """One line per fault or feature this backend cannot do; empty when it can do them all."""
        have = self.features()
        lines = [f"{fault.describe()} ({fault.type})" for fault in faults if fault.feature not in have]
        lines += [f"feature {feature}" for feature in sorted(requires) if feature not in have]
        return list(dict.fromkeys(lines))

    def check_faults(self, faults: list[Fault], requires: set[str] = frozenset()) -> None:
        """Refuse, before anything starts, what this backend cannot do: name each fault and the backend."""
        missing = self.missing(faults, requires)
        if missing:
            raise UnsupportedFault(
                f"the {self.name} backend cannot apply: {'; '.join(missing)}. "
                f"It can do: {', '.join(sorted(self.features()))}"
            )

    def check_scenario(self, scenario: Scenario) -> None:
        self.check_faults(scenario.faults(), scenario.features() - {f.feature for f in scenario.faults()})

    async def apply(self, fault: Fault) -> None:
        if isinstance(fault, UplinkCut):
            await self.cut(fault.mode)
        else:  # pragma: no cover - check_faults refuses these before a run
            raise UnsupportedFault(f"the {self.name} backend cannot apply the fault {fault.describe()!r}")

    async def heal(self, fault: Fault) -> None:
        """Undo ``fault``; healing what is not applied does nothing (rollbacks rely on it)."""
        if isinstance(fault, UplinkCut):
            await self.restore()
