"""What crosses from the scenario engine to a backend, and on to a probe agent: operations, outcomes,
places and fault descriptions.

This module imports nothing else from ``island``: the scenario model converts into it, and the
backends, the probes and the probe agent speak only it. A scenario file's checks (``dns``,
``http``, ``reach``) and faults are written in these same terms; what only the engine knows
(which probe a lookup follows) stays in the scenario model, and what an operation needs from
the engine (the made-up resident) is filled in before it crosses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal, get_args

from dnslib import QTYPE, RCODE
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# Jepsen's three outcomes: ok, fail (it certainly did not work), unknown (no answer in time:
# it may or may not have happened).
Status = Literal["ok", "fail", "unknown"]


@dataclass(frozen=True)
class Lease:
    """What a phone that joined a trygghetspunkt's Wi-Fi got from its DHCP server, and how fast."""

    address: str
    dns: str
    router: str
    captive_api: str  # DHCP option 114 (RFC 8910); empty when the server sent none
    join_ms: float  # from the phone's first DHCP message to its address applied


@dataclass(frozen=True)
class Outcome:
    """What one probe operation gave: its status, how long it took, and what happened."""

    status: Status
    latency_ms: float
    detail: str = ""
    lease: Lease | None = None  # a phone probe that joined the Wi-Fi with real DHCP


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


# Places: where a resident's phone stands ------------------------------------------------------------

# trygghetspunkt-c: island c's in a region (`islands: 3`); one island has a, b and home.
Place = Literal["trygghetspunkt-a", "trygghetspunkt-b", "home", "trygghetspunkt-c"]
PLACES: tuple[str, ...] = get_args(Place)
Link = Literal["uplink", "trygghetspunkt-a", "trygghetspunkt-b", "home", "island"]
Service = Literal["resolver", "site", "upstream"]


# Operations --------------------------------------------------------------------------------------------


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


class ReachCheck(_Model):
    """Open a TCP connection to another place's host; an answer (even a refusal) means it is reachable."""

    place: Place
    port: int = Field(7, ge=1, le=65535, description="a port nothing listens on: a reset is an answer")


PhoneOS = Literal["android", "apple", "windows", "firefox", "networkmanager"]
Verdict = Literal["online", "portal", "no-internet"]
VERDICTS: tuple[str, ...] = ("online", "portal", "no-internet")


class PhoneCheck(_Model):
    """Run one OS's published connectivity check, as that OS does on joining a network (docs/phones.md).

    The verdict is ``online``, ``portal`` (the OS would open its sign-in sheet: the probe follows it
    and the sheet must show the crisis page) or ``no-internet``. The operation is ok for the first
    two; its detail starts with the verdict.
    """

    os: PhoneOS
    join: bool = Field(
        False,
        description="each check is a phone that has just joined the trygghetspunkt's Wi-Fi: it asks for an "
        "address with DHCP first (netns: a real DHCP join; local and compose: simulated, the phone "
        "already has its address)",
    )


class Person(_Model):
    """A made-up resident, unique to one operation (the engine makes them up)."""

    name: str
    identifier: str = Field(description="the second identifier the relatives know: a phone number")
    wrong_identifier: str = Field(description="another phone number, for lookups that must find nothing")
    message: str = Field(description="the resident's own message, which a lookup must show")


class RegistryOperation(_Model):
    """Register ``person`` with the registry's form, or look them up with the right or a wrong identifier."""

    action: Literal["register", "lookup"]
    site: str = Field(description="the crisis site, by name; the registry is its /anhoriga")
    identifier: Literal["right", "wrong"] = "right"
    person: Person


class RegionCheck(_Model):
    """A region has converged: every island and the hub answer the same registry counts (records,
    messages), every island the same crisis messages, and each of the hub's among them. Read from
    each site's /api/region.json (counts and hashed message ids only, no login)."""

    min_records: int = Field(
        0, ge=0, description="at least this many records everywhere (not vacuously equal)"
    )


class Operation(_Model):
    """One thing a resident's phone does at a place, with its own time limit."""

    name: str
    place: Place = "trygghetspunkt-a"
    dns: DNSCheck | None = None
    http: HTTPCheck | None = None
    reach: ReachCheck | None = None
    registry: RegistryOperation | None = None
    phone: PhoneCheck | None = None
    region: RegionCheck | None = None
    timeout: float = Field(3.0, gt=0, le=30)

    @model_validator(mode="after")
    def _one_kind(self) -> Operation:
        kinds = (self.dns, self.http, self.reach, self.registry, self.phone, self.region)
        if sum(kind is not None for kind in kinds) != 1:
            raise ValueError("an operation has exactly one of dns, http, reach, registry, phone or region")
        return self


# Faults: one model class per type; what a backend does with each is its handler (backends/faults.py) --


class FaultSpec(_Model):
    duration: float | None = Field(
        None, gt=0, le=3600, description="seconds until it is healed; default: until the end of its phase"
    )

    @classmethod
    def type_name(cls) -> str:
        """The ``type:`` written in a scenario file."""
        name: str = get_args(cls.model_fields["type"].annotation)[0]
        return name

    @classmethod
    def offered(cls) -> frozenset[str]:
        """Every feature a backend that handles this fault type offers (see :attr:`feature`)."""
        return frozenset({cls.type_name()})

    def describe(self) -> str:  # pragma: no cover - every fault overrides it
        raise NotImplementedError

    @property
    def instant(self) -> bool:
        """Over once applied (nothing to heal), like a restart."""
        return False

    @property
    def feature(self) -> str:
        """What a backend must be able to do for this fault."""
        return self.type_name()


_CUT_MODES = ("blackhole", "reject")


class UplinkCut(FaultSpec):
    """Cut the island's uplink: blackhole drops silently, reject fails fast."""

    type: Literal["uplink-cut"]
    mode: Literal["blackhole", "reject"] = "blackhole"

    @classmethod
    def offered(cls) -> frozenset[str]:
        return frozenset(f"uplink-cut:{mode}" for mode in _CUT_MODES)

    def describe(self) -> str:
        return f"uplink cut ({self.mode})"

    @property
    def feature(self) -> str:
        return f"uplink-cut:{self.mode}"


class DNSCut(FaultSpec):
    """Only DNS to the internet is cut; the web still passes (a broken upstream resolver path)."""

    type: Literal["dns-cut"]
    mode: Literal["blackhole", "reject"] = "blackhole"

    def describe(self) -> str:
        return f"DNS-only cut ({self.mode})"


class LinkDown(FaultSpec):
    """A link's interface is set down (a cable pulled)."""

    type: Literal["link-down"]
    link: Link = "uplink"

    def describe(self) -> str:
        return f"link {self.link} down"


class PacketLoss(FaultSpec):
    """A share of the packets towards the internet vanish."""

    type: Literal["packet-loss"]
    percent: int = Field(ge=1, le=100)

    def describe(self) -> str:
        return f"packet loss {self.percent} %"


class Bandwidth(FaultSpec):
    """The uplink gets thin: both directions limited to this rate (token bucket)."""

    type: Literal["bandwidth"]
    kbit: int = Field(ge=8, le=10_000_000, description="kilobits per second")

    def describe(self) -> str:
        return f"bandwidth {self.kbit} kbit/s"


class Latency(FaultSpec):
    """The internet's answers come late: a delay plus up to jitter_ms more, at random."""

    type: Literal["latency"]
    delay_ms: float = Field(ge=0, le=30_000)
    jitter_ms: float = Field(0, ge=0, le=30_000)

    def describe(self) -> str:
        jitter = f" ± {self.jitter_ms:g}" if self.jitter_ms else ""
        return f"upstream latency {self.delay_ms:g}{jitter} ms"


class Flapping(FaultSpec):
    """The uplink goes down and up again and again: cut for (1 - duty) of every period.

    The engine drives it as repeated uplink cuts, so no backend has a handler of its own for it."""

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
        return UplinkCut(type="uplink-cut", mode=self.mode, duration=None)


class Partition(FaultSpec):
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


ServiceAction = Literal["kill", "restart", "pause"]


class ServiceFault(FaultSpec):
    """A service is killed (started again when healed), restarted at once, or paused (SIGSTOP, then SIGCONT)."""

    type: Literal["service"]
    service: Service
    action: ServiceAction

    @classmethod
    def offered(cls) -> frozenset[str]:
        return frozenset(f"service:{action}" for action in get_args(ServiceAction))

    def describe(self) -> str:
        return f"{self.service} {self.action}"

    @property
    def instant(self) -> bool:
        return self.action == "restart"

    @property
    def feature(self) -> str:
        return f"service:{self.action}"


IslandName = Annotated[str, Field(pattern=r"^[a-t]$", description="an island of the region: a, b, c, ...")]


class RegionLinkCut(FaultSpec):
    """The stadsnät link between an island and the hub is cut (one island's, or every island's);
    each island keeps working alone, and both directions catch up when it heals."""

    type: Literal["region-link-cut"]
    island: IslandName | None = Field(None, description="the island whose link is cut; none: every island's")

    def describe(self) -> str:
        return (
            f"island {self.island}'s link to the hub cut"
            if self.island
            else "every island's link to the hub cut"
        )


class HubDown(FaultSpec):
    """The hub's nats-server is down (killed; started again when healed): the whole hub, every
    node of a cluster."""

    type: Literal["hub-down"]

    def describe(self) -> str:
        return "the hub's nats-server down"


class HubNodeDown(FaultSpec):
    """One node of a three-node hub is down (its nats-server killed; started again when healed):
    the islands' leaf links move to another node and the region goes on replicating."""

    type: Literal["hub-node-down"]
    node: Literal["n1", "n2", "n3"] = Field(description="the hub node taken down")

    def describe(self) -> str:
        return f"hub node {self.node} down"


class HubMessage(FaultSpec):
    """The hub's crisis management publishes a crisis message (as an editor at the hub would):
    an event of the phase rather than a fault, over once applied."""

    type: Literal["hub-message"]
    headline: str = Field(min_length=1, max_length=120)

    def describe(self) -> str:
        return f"the hub publishes {self.headline!r}"

    @property
    def instant(self) -> bool:
        return True


Fault = Annotated[
    UplinkCut
    | DNSCut
    | LinkDown
    | PacketLoss
    | Bandwidth
    | Latency
    | Flapping
    | Partition
    | ServiceFault
    | RegionLinkCut
    | HubDown
    | HubNodeDown
    | HubMessage,
    Field(discriminator="type"),
]
# Every fault type, from the one list above (a new fault is added there only).
FAULT_TYPES: tuple[type[FaultSpec], ...] = get_args(get_args(Fault)[0])
