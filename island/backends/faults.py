"""Faults as units: per backend, one handler per fault type it can make, listed in that backend's table.

A fault type is one model class in :mod:`island.contract`; a backend that can make it has one
:class:`FaultHandler` (apply, heal) for it in its :class:`FaultTable`. The table is the whole
truth about what the backend can do: its features are derived from it, and ``Backend.apply``
and ``Backend.heal`` only look the handler up. Adding a fault is one model class, one handler
per backend that can make it, and one test per handler.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from ..contract import FaultSpec, UplinkCut

if TYPE_CHECKING:
    from .base import Backend

B = TypeVar("B")  # the backend (or the part of one, a Protocol) the handler works on
F = TypeVar("F", bound=FaultSpec)


class FaultHandler(Generic[B, F]):
    """How one backend makes one fault type, and undoes it. Healing what is not on does nothing."""

    fault: ClassVar[type[FaultSpec]]

    async def apply(self, backend: B, fault: F) -> None:
        raise NotImplementedError

    async def heal(self, backend: B, fault: F) -> None:
        raise NotImplementedError

    def features(self) -> frozenset[str]:
        """What this handler makes possible; by default every variant of its fault type."""
        return self.fault.offered()


AnyHandler = FaultHandler[Any, Any]


class FaultTable:
    """A backend's handlers by fault type."""

    def __init__(self, handlers: Iterable[AnyHandler]) -> None:
        self._by_type: dict[str, AnyHandler] = {}
        for handler in handlers:
            name = handler.fault.type_name()
            if name in self._by_type:
                raise ValueError(f"two handlers for the fault type {name!r}")
            self._by_type[name] = handler

    def __or__(self, other: FaultTable) -> FaultTable:
        return FaultTable([*self._by_type.values(), *other._by_type.values()])

    def handler(self, fault: FaultSpec) -> AnyHandler | None:
        return self._by_type.get(fault.type_name())

    def types(self) -> frozenset[str]:
        return frozenset(self._by_type)

    def features(self) -> frozenset[str]:
        return frozenset().union(*(h.features() for h in self._by_type.values()))


class UplinkCutHandler(FaultHandler["Backend", UplinkCut]):
    """Every backend cuts its uplink its own way (``Backend.cut``), which ``island uplink cut`` uses too."""

    fault = UplinkCut

    async def apply(self, backend: Backend, fault: UplinkCut) -> None:
        await backend.cut(fault.mode)

    async def heal(self, backend: Backend, fault: UplinkCut) -> None:
        await backend.restore()
