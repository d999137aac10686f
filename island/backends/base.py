"""The one interface every backend implements: start, stop, cut, restore, exec a probe.

The scenario engine only ever talks to this interface; how a cut is made (a
relay that goes silent, an nftables rule, a container's router) stays inside
each backend.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence, Set
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ..certificates import https_off_reason, public_ca_file
from ..contract import PLACES, FaultSpec, Operation, Outcome
from ..deploy.rehearsal import Rehearsal
from ..service_specs import SITE_DATABASE
from ..state import StateDir
from ..topology import Addresses, Topology
from .faults import FaultTable, UplinkCutHandler

if TYPE_CHECKING:  # region.py raises this module's BackendError
    from .region import RegionLayout

Say = Callable[[str], None]


class BackendError(RuntimeError):
    """Something the person running the island must act on; the message says what to do."""


class UnsupportedFault(BackendError):
    pass


class Backend(abc.ABC):
    name: ClassVar[str]
    # What it can do: one handler per fault type (see faults.py), and where its residents' phones stand.
    faults: ClassVar[FaultTable] = FaultTable([UplinkCutHandler()])
    # A region (`island up --islands N`, N > 1): the hub and its islands; None for one island.
    region: RegionLayout | None = None

    def __init__(self, state: StateDir, addresses: Addresses) -> None:
        self.state = state
        self.addresses = addresses
        # Where the site's database lives: kept by `island down` (see state.py).
        self.data_dir = state.data_dir
        # The site file rehearsed (`island up --site`); None: the built-in demo island.
        self.site: Rehearsal | None = None

    # A site file ----------------------------------------------------------------------------
    def use_site(self, rehearsal: Rehearsal) -> None:
        """Rehearse the island ``rehearsal`` describes instead of the demo island (before start)."""
        raise BackendError(
            f"the {self.name} backend cannot rehearse a site file yet; use --backend netns "
            "(the rendered files, the site file's addresses) or --backend local"
        )

    def site_mapping(self) -> list[str]:
        """What of the site file this backend honours and what stands in for the rest, one line each."""
        return []

    def https_off(self) -> str | None:
        """Why HTTPS is not rehearsed on this island (its probes are then left out); None when it is."""
        return https_off_reason() if public_ca_file(self.state) is None else None

    # Where a person reaches the island from: the crisis page from this machine's browser (None
    # when only hosts inside the island network can), and the page by name as a resident opens it.
    @property
    def browser_url(self) -> str | None:
        return self.addresses.site_url

    @property
    def resident_url(self) -> str:
        return self.addresses.crisis_url

    @property
    def https_url(self) -> str:
        """The crisis page over HTTPS by name, at the port this backend serves (or publishes) it on."""
        from ..certificates import https_url  # the certificates' module needs the scenario model

        return https_url(self.addresses)

    async def refresh_tls(self) -> None:  # noqa: B027 - optional: most backends' site writes to the host
        """Bring what `island status` shows of HTTPS (the public CA, the certificate) into the state folder."""

    async def install_certificate(self, pair: Path) -> None:  # noqa: B027 - most sites read the host's folder
        """Hand the site a checked key-and-chain file, written already in the data folder's TLS folder."""

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
    async def probe(self, probe: Operation) -> Outcome:
        """Run one probe operation from the resident's place on the island."""

    async def close_probes(self) -> None:  # noqa: B027 - optional: most backends hold nothing
        """Release what probing needed."""

    # Faults ---------------------------------------------------------------------------------
    @property
    def places(self) -> tuple[str, ...]:
        """Where its residents' phones stand (probes name them)."""
        return ("trygghetspunkt-a",)

    def features(self) -> frozenset[str]:
        """What this backend can do, in the terms of ``FaultSpec.feature`` and ``place:NAME``: from its table,
        and a region's size."""
        region = self.region.features() if self.region is not None else set()
        return self.faults.features() | {f"place:{place}" for place in self.places} | region

    def missing(self, faults: Sequence[FaultSpec], requires: Set[str] = frozenset()) -> list[str]:
        """One line per fault or feature this backend cannot do; empty when it can do them all."""
        have = self.features()
        lines = [f"{fault.describe()} ({fault.type_name()})" for fault in faults if fault.feature not in have]
        lines += [f"feature {feature}" for feature in sorted(requires) if feature not in have]
        return list(dict.fromkeys(lines))

    def check_faults(self, faults: Sequence[FaultSpec], requires: Set[str] = frozenset()) -> None:
        """Refuse, before anything starts, what this backend cannot do: name each fault and the backend."""
        missing = self.missing(faults, requires)
        if missing:
            raise UnsupportedFault(
                f"the {self.name} backend cannot apply: {'; '.join(missing)}. "
                f"It can do: {', '.join(sorted(self.features()))}"
            )

    async def apply(self, fault: FaultSpec) -> None:
        handler = self.faults.handler(fault)
        if handler is None or fault.feature not in handler.features():
            raise UnsupportedFault(f"the {self.name} backend cannot apply the fault {fault.describe()!r}")
        await handler.apply(self, fault)

    async def heal(self, fault: FaultSpec) -> None:
        """Undo ``fault``; healing what is not applied does nothing (rollbacks rely on it)."""
        handler = self.faults.handler(fault)
        if handler is not None:
            await handler.heal(self, fault)

    # Services and their data ------------------------------------------------------------------
    def data_location(self) -> str | None:
        """Where the site's database is kept across restarts and `island down`; None if not on this host."""
        return str(self.data_dir)

    def site_database(self) -> Path:
        """The database of the island's crisis site (the hub's in a region): where `island site add-editor`
        adds an account so that the running site sees it."""
        if self.region is not None:
            return self.region.site_database(self.data_dir)
        if self.site is not None:  # a rehearsal: the rendered site.json's database
            return self.site.database
        return self.data_dir / SITE_DATABASE

    @property
    def islands(self) -> int:
        """How many islands run: 1, or a region's count (its hub besides)."""
        return self.region.islands if self.region is not None else 1

    @property
    def hub_nodes(self) -> int:
        """A region's hub: one nats-server node, or a cluster of three (1 for one island too)."""
        return self.region.hub_nodes if self.region is not None else 1

    async def replication(self) -> dict[str, dict[str, Any]] | None:
        """A region's replication state per place (the hub and each island); None for one island."""
        return None if self.region is None else await self.region.replication(self.state)

    def watchdog(self) -> dict[str, Any] | None:
        """Whether something starts a crashed service again, and where it logs; None if the backend has none."""
        return None

    async def restart_service(self, name: str, say: Say) -> None:
        """Stop one service as an operator would and start it again (``island restart SERVICE``)."""
        raise BackendError(f"the {self.name} backend cannot restart a single service")


def topology_places(topology: Topology) -> tuple[str, ...]:
    """The places a topology has that probes can name (contract.Place), in the topology's order."""
    return tuple(p.name for p in topology.places if p.name in PLACES)
