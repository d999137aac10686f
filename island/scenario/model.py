"""The scenario as data: probes, phases with their faults, and the tolerances each phase must meet."""

from __future__ import annotations

from typing import Annotated, Literal

from dnslib import QTYPE, RCODE
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import InitErrorDetails, PydanticCustomError


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DNSCheck(_Model):
    """Ask the island resolver (the one the place's resolv.conf names); ok when the answer has this rcode (and, for NOERROR, a record)."""

    name: str = Field(description="the name to ask for; {crisis_name} is the island's crisis name")
    type: str = "A"
    rcode: str = "NOERROR"
    address: str | None = Field(None, description="an address the answer must contain")

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        value = value.upper()
        if value not in QTYPE.reverse:
            raise ValueError(f"unknown record type {value!r}")
        return value

    @field_validator("rcode")
    @classmethod
    def _known_rcode(cls, value: str) -> str:
        value = value.upper()
        if value not in RCODE.reverse:
            raise ValueError(f"unknown rcode {value!r}; use NOERROR, NXDOMAIN, SERVFAIL, …")
        return value


class HTTPCheck(_Model):
    """GET a URL by name, resolved through the island resolver; a URL without a port uses the web port
    (HTTPS: the HTTPS port, the certificate verified against the simulated public CA)."""

    url: str
    status: int = Field(200, ge=100, le=599)
    contains: str | None = None

    @field_validator("url")
    @classmethod
    def _http_only(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("only http:// and https:// URLs can be probed")
        return value


Place = Literal["trygghetspunkt-a", "trygghetspunkt-b", "home"]
PLACES: tuple[str, ...] = ("trygghetspunkt-a", "trygghetspunkt-b", "home")


class ReachCheck(_Model):
    """Open a TCP connection to another place's host; an answer (even a refusal) means it is reachable."""

    place: Place
    port: int = Field(7, ge=1, le=65535, description="a port nothing listens on: a reset is an answer")


class Person(_Model):
    """A made-up resident, unique to one operation: filled in by the engine, never written in a scenario."""

    name: str
    identifier: str = Field(description="the second identifier the relatives know: a phone number")
    wrong_identifier: str = Field(description="another phone number, for lookups that must find nothing")
    message: str = Field(description="the resident's own message, which a lookup must show")


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
    # Hidden from the published format: the engine sets it on each operation it hands a backend.
    person: SkipJsonSchema[Person | None] = None

    @field_validator("site")
    @classmethod
    def _http_only(cls, value: str) -> str:
        if not value.startswith("http://"):
            raise ValueError("only an http:// site can be probed")
        return value.rstrip("/")

    @field_validator("person")
    @classmethod
    def _not_from_a_file(cls, value: Person | None, info: ValidationInfo) -> Person | None:
        if value is not None and (info.context or {}).get("scenario_file"):
            raise ValueError("the engine makes up a new resident for every operation; leave person out")
        return value

    @model_validator(mode="after")
    def _fields_fit_the_action(self) -> RegistryCheck:
        if self.action == "lookup" and self.of is None:
            raise ValueError("a lookup needs of: the register probe whose residents it looks up")
        # By value, not by the fields given: an operation sent on to a probe agent carries every default.
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
    timeout: float = Field(3.0, gt=0, le=30, description="seconds before an operation's outcome is unknown")

    @model_validator(mode="after")
    def _one_kind(self) -> Probe:
        if sum(kind is not None for kind in (self.dns, self.http, self.reach, self.registry)) != 1:
            raise ValueError("a probe has exactly one of dns, http, reach or registry")
        return self


Link = Literal["uplink", "trygghetspunkt-a", "trygghetspunkt-b", "home", "island"]
Service = Literal["resolver", "site", "upstream"]


class _Fault(_Model):
    duration: float | None = Field(
        None, gt=0, le=3600, description="seconds until it is healed; default: until the end of its phase"
    )

    def describe(self) -> str:  # pragma: no cover - every fault overrides it
        raise NotImplementedError

    @property
    def instant(self) -> bool:
        """Over once applied (nothing to heal), like a restart."""
        return False

    @property
    def feature(self) -> str:
        """What a backend must be able to do for this fault (see Backend.features)."""
        return self.type  # type: ignore[attr-defined]


class UplinkCut(_Fault):
    """Cut the island's uplink: blackhole drops silently, reject fails fast."""

    type: Literal["uplink-cut"]
    mode: Literal["blackhole", "reject"] = "blackhole"

    def describe(self) -> str:
        return f"uplink cut ({self.mode})"

    @property
    def feature(self) -> str:
        return f"uplink-cut:{self.mode}"


class DNSCut(_Fault):
    """Only DNS to the internet is cut; the web still passes (a broken upstream resolver path)."""

    type: Literal["dns-cut"]
    mode: Literal["blackhole", "reject"] = "blackhole"

    def describe(self) -> str:
        return f"DNS-only cut ({self.mode})"


class LinkDown(_Fault):
    """A link's interface is set down (a cable pulled)."""

    type: Literal["link-down"]
    link: Link = "uplink"

    def describe(self) -> str:
        return f"link {self.link} down"


class PacketLoss(_Fault):
    """A share of the packets towards the internet vanish."""

    type: Literal["packet-loss"]
    percent: int = Field(ge=1, le=100)

    def describe(self) -> str:
        return f"packet loss {self.percent} %"


class Bandwidth(_Fault):
    """The uplink gets thin: both directions limited to this rate (token bucket)."""

    type: Literal["bandwidth"]
    kbit: int = Field(ge=8, le=10_000_000, description="kilobits per second")

    def describe(self) -> str:
        return f"bandwidth {self.kbit} kbit/s"


class Latency(_Fault):
    """The internet's answers come late: a delay plus up to jitter_ms more, at random."""

    type: Literal["latency"]
    delay_ms: float = Field(ge=0, le=30_000)
    jitter_ms: float = Field(0, ge=0, le=30_000)

    def describe(self) -> str:
        jitter = f" ± {self.jitter_ms:g}" if self.jitter_ms else ""
        return f"upstream latency {self.delay_ms:g}{jitter} ms"


class Flapping(_Fault):
    """The uplink goes down and up again and again: cut for (1 - duty) of every period."""

    type: Literal["flapping"]
    period: float = Field(gt=0.2, le=600, description="seconds per down-and-up cycle")
    duty: float = Field(0.5, gt=0, lt=1, description="share of each period the uplink is up")
    mode: Literal["blackhole", "reject"] = "blackhole"

    def describe(self) -> str:
        return f"uplink flapping every {self.period:g} s, up {self.duty:.0%} ({self.mode})"

    @property
    def feature(self) -> str:
        # Applied as repeated uplink cuts, so it needs exactly what such a cut needs.
        return self.cut().feature

    def cut(self) -> UplinkCut:
        return UplinkCut(type="uplink-cut", mode=self.mode)


class Partition(_Fault):
    """Two client networks can no longer reach each other (each still reaches the island)."""

    type: Literal["partition"]
    between: tuple[Place, Place] = ("trygghetspunkt-a", "trygghetspunkt-b")

    @model_validator(mode="after")
    def _two(self) -> Partition:
        if self.between[0] == self.between[1]:
            raise ValueError("a partition is between two different places")
        return self

    def describe(self) -> str:
        return f"partition {self.between[0]} | {self.between[1]}"


class ServiceFault(_Fault):
    """A service is killed (started again when healed), restarted at once, or paused (SIGSTOP, then SIGCONT)."""

    type: Literal["service"]
    service: Service
    action: Literal["kill", "restart", "pause"]

    def describe(self) -> str:
        return f"{self.service} {self.action}"

    @property
    def instant(self) -> bool:
        return self.action == "restart"

    @property
    def feature(self) -> str:
        return f"service:{self.action}"


Fault = Annotated[
    UplinkCut | DNSCut | LinkDown | PacketLoss | Bandwidth | Latency | Flapping | Partition | ServiceFault,
    Field(discriminator="type"),
]
FAULT_TYPES: tuple[type[_Fault], ...] = (
    UplinkCut,
    DNSCut,
    LinkDown,
    PacketLoss,
    Bandwidth,
    Latency,
    Flapping,
    Partition,
    ServiceFault,
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
        for phase in self.phases:
            unknown = set(phase.expect) - set(names)
            if unknown:
                raise ValueError(
                    f"phase {phase.name!r} expects unknown probe {', '.join(sorted(unknown))}; "
                    f"probes are {', '.join(names)}"
                )
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
    def period(self) -> float:
        """Seconds between two operations of one probe."""
        return 1.0 / self.load.rate if self.load else self.interval

    def faults(self) -> list:
        return [f for phase in self.phases for f in phase.faults] + list(self.rollbacks)

    def features(self) -> set[str]:
        """Everything a backend must offer to run this scenario."""
        wanted = {f.feature for f in self.faults()} | set(self.requires)
        wanted |= {f"place:{p.place}" for p in self.probes}
        wanted |= {f"place:{p.reach.place}" for p in self.probes if p.reach}
        return wanted
