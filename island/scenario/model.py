"""The scenario as data: probes, phases with their faults, and the tolerances each phase must meet.

The checks and faults a scenario file writes are the contract's own (``island.contract``); a
probe converts into the contract's :class:`Operation` (:meth:`Probe.operation`) before it
crosses to a backend.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from ..contract import (
    FAULT_TYPES,
    PLACES,
    Bandwidth,
    DNSCheck,
    DNSCut,
    Fault,
    FaultSpec,
    Flapping,
    HTTPCheck,
    Latency,
    LinkDown,
    Operation,
    PacketLoss,
    Partition,
    Person,
    PhoneCheck,
    Place,
    ReachCheck,
    RegionCheck,
    RegistryOperation,
    ServiceFault,
    UplinkCut,
    Verdict,
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RegistryCheck(_Model):
    """Use the safe-and-well registry (/anhoriga) by name through the island resolver, as a phone's browser would.

    ``register`` POSTs the registration form for a new made-up resident (a unique name, phone
    number and message per operation); ok once the page with the private code is shown.
    ``lookup`` POSTs the lookup form for a resident that the ``of`` probe registered earlier in
    the run (from any place): with the ``right`` identifier it is ok when the message is found;
    with a ``wrong`` one it is ok when nothing is found (privacy holds).
    """

    action: Literal["register", "lookup"]
    site: str = Field(
        "http://{crisis_name}", description="the crisis site, by name; the registry is its /anhoriga"
    )
    of: str | None = Field(None, description="lookup: the register probe whose residents are looked up")
    identifier: Literal["right", "wrong"] = Field(
        "right",
        description="lookup: the identifier the resident registered with, or another that must find nothing",
    )

    @field_validator("site")
    @classmethod
    def _http_only(cls, value: str) -> str:
        if not value.startswith("http://"):
            raise ValueError("only an http:// site can be probed")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _fields_fit_the_action(self) -> RegistryCheck:
        if self.action == "lookup" and self.of is None:
            raise ValueError("a lookup needs of: the register probe whose residents it looks up")
        if self.action == "register" and (self.of is not None or self.identifier != "right"):
            raise ValueError("of and identifier are for lookups; a register probe makes up its own residents")
        return self


class Probe(_Model):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    description: str = ""
    place: Place = Field(
        "trygghetspunkt-a", description="where the phone stands: a trygghetspunkt or a home on the stadsnät"
    )
    dns: DNSCheck | None = None
    http: HTTPCheck | None = None
    reach: ReachCheck | None = None
    registry: RegistryCheck | None = None
    phone: PhoneCheck | None = None
    region: RegionCheck | None = None
    timeout: float = Field(3.0, gt=0, le=30, description="seconds before an operation's outcome is unknown")
    during: list[str] = Field(
        [],
        description="the phases this probe runs in (e.g. registrations that stop before a convergence check); empty: all",
    )

    @model_validator(mode="after")
    def _one_kind(self) -> Probe:
        kinds = (self.dns, self.http, self.reach, self.registry, self.phone, self.region)
        if sum(kind is not None for kind in kinds) != 1:
            raise ValueError("a probe has exactly one of dns, http, reach, registry, phone or region")
        if self.phone is not None and self.phone.join and not self.place.startswith("trygghetspunkt"):
            raise ValueError(
                f"a phone joins a trygghetspunkt's Wi-Fi (the island's DHCP), not {self.place}: "
                "set place to a trygghetspunkt or drop join"
            )
        return self

    def operation(self, person: Person | None = None) -> Operation:
        """What crosses to a backend: this probe's check, with the resident a registry operation is about."""
        registry = None
        if self.registry is not None:
            if person is None:
                raise ValueError(f"the registry probe {self.name} needs a resident for each operation")
            registry = RegistryOperation(
                action=self.registry.action,
                site=self.registry.site,
                identifier=self.registry.identifier,
                person=person,
            )
        return Operation(
            name=self.name,
            place=self.place,
            dns=self.dns,
            http=self.http,
            reach=self.reach,
            registry=registry,
            phone=self.phone,
            region=self.region,
            timeout=self.timeout,
        )


class Tolerance(_Model):
    """What a probe must achieve in a phase. Latencies are over successful operations."""

    min_success: float = Field(1.0, ge=0, le=1, description="share of operations that must be ok (0 to 1)")
    max_success: float | None = Field(
        None, ge=0, le=1, description="at most this share may be ok: for what a fault must break"
    )
    max_p50_ms: float | None = Field(None, gt=0)
    max_p95_ms: float | None = Field(None, gt=0)
    max_p99_ms: float | None = Field(None, gt=0)
    verdict: Verdict | None = Field(
        None, description="phone probes: the verdict an operation must give to count as ok in this phase"
    )

    @model_validator(mode="after")
    def _must_fail_needs_no_minimum(self) -> Tolerance:
        # "at most 0 % ok" alone means what it says; the default minimum of 100 % would contradict it.
        if self.max_success is not None and "min_success" not in self.model_fields_set:
            self.min_success = 0.0
        if self.max_success is not None and self.max_success < self.min_success:
            raise ValueError("max_success is below min_success")
        return self


class Phase(_Model):
    """One step of the method: switch these faults on, wait ``duration`` seconds, heal them."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    duration: float = Field(gt=0, le=3600, description="seconds (the pause of this step)")
    faults: list[Fault] = []
    expect: dict[str, Tolerance] = Field(
        {}, description="probe name -> tolerance; probes not named are recorded only"
    )


class Load(_Model):
    rate: float = Field(gt=0, le=200, description="operations per second of each probe")


class Scenario(_Model):
    title: str
    description: str = ""
    requires: list[str] = Field(
        [], description="backend features the scenario needs beyond its faults' own (e.g. places:home)"
    )
    clean_registry: bool = Field(
        False,
        description="the run needs an empty safe-and-well registry: it is run only on an island the run "
        "starts itself, with a data folder of its own that is deleted afterwards",
    )
    islands: int = Field(
        1,
        ge=1,
        le=20,
        description="a region: the hub and this many islands (a, b, c, ...), which a run that starts "
        "its own island brings up (`island up --islands N`); 1 is one island, no region",
    )
    hub_nodes: Literal[1, 3] = Field(
        1,
        description="a region's hub: one nats-server node, or a cluster of three (`island up --hub-nodes 3`), "
        "which the hub-node-down fault takes one node of",
    )
    interval: float = Field(0.25, ge=0.005, le=60, description="seconds between two operations of one probe")
    load: Load | None = Field(None, description="probe rate; overrides interval")
    probes: list[Probe] = Field(min_length=1)
    phases: list[Phase] = Field(min_length=1, description="the method: steps in order, each with its faults")
    rollbacks: list[Fault] = Field(
        [],
        description="faults healed at the end whatever happened, even if never applied (heal is idempotent)",
    )

    @model_validator(mode="after")
    def _references(self) -> Scenario:
        names = [p.name for p in self.probes]
        duplicates = {n for n in names if names.count(n) > 1}
        if duplicates:
            raise ValueError(f"probe names must be unique: {', '.join(sorted(duplicates))}")
        phase_names = [p.name for p in self.phases]
        if len(set(phase_names)) != len(phase_names):
            raise ValueError("phase names must be unique")
        for probe in self.probes:
            _known(probe.during, f"probe {probe.name!r} runs during", "phase", phase_names)
        for phase in self.phases:
            _known(phase.expect, f"phase {phase.name!r} expects", "probe", names)
        if self.hub_nodes > 1 and self.islands == 1:
            raise ValueError("hub_nodes: a hub cluster is a region's; set islands to 2 or more")
        self._registry_references()
        return self

    def _registry_references(self) -> None:
        """A lookup's ``of`` names a register probe; the error points at that ``of``."""
        registering = {p.name for p in self.probes if p.registry and p.registry.action == "register"}
        problems = [
            InitErrorDetails(
                type=PydanticCustomError(
                    "reference",
                    "no register probe is called {of}; register probes: {known}",
                    {"of": p.registry.of, "known": ", ".join(sorted(registering)) or "none"},
                ),
                loc=("probes", index, "registry", "of"),
                input=p.registry.of,
            )
            for index, p in enumerate(self.probes)
            if p.registry and p.registry.action == "lookup" and p.registry.of not in registering
        ]
        if problems:
            raise ValidationError.from_exception_data(type(self).__name__, problems)

    @property
    def duration(self) -> float:
        return sum(p.duration for p in self.phases)

    @property
    def size(self) -> tuple[int, int]:
        """The island or region it runs on: (islands, hub nodes)."""
        return self.islands, self.hub_nodes

    @property
    def period(self) -> float:
        """Seconds between two operations of one probe."""
        return 1.0 / self.load.rate if self.load else self.interval

    def faults(self) -> list[Fault]:
        return [f for phase in self.phases for f in phase.faults] + list(self.rollbacks)

    def features(self) -> set[str]:
        """Everything a backend must offer to run this scenario."""
        wanted = {f.feature for f in self.faults()} | set(self.requires)
        if self.islands > 1:
            wanted |= {f"islands:{self.islands}", f"hub-nodes:{self.hub_nodes}"}
        wanted |= {f"place:{p.place}" for p in self.probes}
        wanted |= {f"place:{p.reach.place}" for p in self.probes if p.reach}
        return wanted


def _known(named: Iterable[str], who: str, kind: str, known: list[str]) -> None:
    """Refuse a reference to a phase or probe the scenario does not have, naming those it has."""
    unknown = set(named) - set(known)
    if unknown:
        raise ValueError(f"{who} unknown {kind} {', '.join(sorted(unknown))}; {kind}s are {', '.join(known)}")


__all__ = [
    "FAULT_TYPES",
    "PLACES",
    "Bandwidth",
    "DNSCheck",
    "DNSCut",
    "Fault",
    "FaultSpec",
    "Flapping",
    "HTTPCheck",
    "Latency",
    "LinkDown",
    "Load",
    "PacketLoss",
    "Partition",
    "Person",
    "Phase",
    "Probe",
    "ReachCheck",
    "RegistryCheck",
    "Scenario",
    "ServiceFault",
    "Tolerance",
    "UplinkCut",
]
