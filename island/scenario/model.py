"""The scenario as data: probes, phases with their faults, and the tolerances each phase must meet."""

from __future__ import annotations

from typing import Annotated, Literal

from dnslib import QTYPE, RCODE
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DNSCheck(_Model):
    """Ask the island resolver; ok when the answer has this rcode (and, for NOERROR, a record)."""

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
    """GET a URL by name, resolved through the island resolver; a URL without a port uses the web port."""

    url: str
    status: int = Field(200, ge=100, le=599)
    contains: str | None = None

    @field_validator("url")
    @classmethod
    def _http_only(cls, value: str) -> str:
        if not value.startswith("http://"):
            raise ValueError("only http:// URLs can be probed")
        return value


class Probe(_Model):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    description: str = ""
    dns: DNSCheck | None = None
    http: HTTPCheck | None = None
    timeout: float = Field(3.0, gt=0, le=30, description="seconds before an operation counts as timed out")

    @model_validator(mode="after")
    def _one_kind(self) -> Probe:
        if (self.dns is None) == (self.http is None):
            raise ValueError("a probe has exactly one of dns or http")
        return self


class UplinkCut(_Model):
    """Cut the island's uplink: blackhole drops silently, reject fails fast."""

    type: Literal["uplink-cut"]
    mode: Literal["blackhole", "reject"] = "blackhole"

    def describe(self) -> str:
        return f"uplink cut ({self.mode})"


Fault = Annotated[UplinkCut, Field(discriminator="type")]


class Tolerance(_Model):
    """What a probe must achieve in a phase. Latencies are over successful operations."""

    min_success: float = Field(1.0, ge=0, le=1, description="share of operations that must be ok (0 to 1)")
    max_p50_ms: float | None = Field(None, gt=0)
    max_p95_ms: float | None = Field(None, gt=0)
    max_p99_ms: float | None = Field(None, gt=0)


class Phase(_Model):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    duration: float = Field(gt=0, le=3600, description="seconds")
    faults: list[Fault] = []
    expect: dict[str, Tolerance] = Field({}, description="probe name -> tolerance; probes not named are recorded only")


class Scenario(_Model):
    title: str
    description: str = ""
    interval: float = Field(0.25, ge=0.01, le=60, description="seconds between two operations of one probe")
    probes: list[Probe] = Field(min_length=1)
    phases: list[Phase] = Field(min_length=1)

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
        return self

    @property
    def duration(self) -> float:
        return sum(p.duration for p in self.phases)
