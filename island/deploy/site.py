"""The site file (``island.site.yaml``): one description of a municipality's islands.

Everything a deployment needs is here and nowhere else: the crisis name, each trygghetspunkt and
its Wi-Fi network, the uplink, the resolver's upstreams, where the certificate comes from, the
region hub and the editors. ``island deploy render`` turns it into configuration files, and the
simulator starts from the same file, so what is rehearsed is what is deployed.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from ..yamlfile import YamlFileError, load_model

_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$"
)
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,30}$")


class SiteFileError(YamlFileError):
    """A site file that cannot be deployed; str() lists every problem as file:line: field: message."""


# Text from the site file is written into line-based configuration (dnsmasq, nftables, units): a line
# break or other control character in a name could end a comment and add a directive.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # the notice's text: line breaks and tabs allowed
_MULTI_LINE_FIELDS = {"text"}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_control_characters(cls, value: object, info: ValidationInfo) -> object:
        control = _CONTROL_IN_TEXT if info.field_name in _MULTI_LINE_FIELDS else _CONTROL
        if isinstance(value, str) and control.search(value):
            raise ValueError(
                "one line of text, without control characters (it goes into configuration files)"
            )
        return value


def _hostname(value: str) -> str:
    value = value.strip().lower().rstrip(".")
    if not _HOSTNAME.match(value):
        raise ValueError(f"{value!r} is not a host name (e.g. krisinfo.kommun.example)")
    return value


class Municipality(_Model):
    name: str = Field(min_length=2, description="as residents know it, e.g. Sjöbacka kommun")
    domain: str = Field(description="the municipality's DNS domain, e.g. kommun.example")
    sender: str = Field("", description="who signs the crisis messages; defaults to the name")

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str) -> str:
        return _hostname(value)


class Wifi(_Model):
    """The trygghetspunkt's Wi-Fi network: one open SSID, addresses from the island's DHCP server."""

    ssid: str = Field(min_length=1, max_length=32)
    network: str = Field(description="the Wi-Fi clients' network, e.g. 10.44.0.0/22")
    island_address: str = Field(description="the island box's address on it: gateway, DNS, web")
    dhcp_first: str
    dhcp_last: str
    lease_minutes: int = Field(60, ge=5, le=1440)

    @field_validator("network")
    @classmethod
    def _network(cls, value: str) -> str:
        try:
            net = ipaddress.IPv4Network(value, strict=True)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not an IPv4 network with its prefix (e.g. 10.44.0.0/22)") from exc
        if not net.is_private:
            raise ValueError(f"{value} is not a private network; use 10/8, 172.16/12 or 192.168/16")
        return str(net)

    @field_validator("island_address", "dhcp_first", "dhcp_last")
    @classmethod
    def _address(cls, value: str) -> str:
        try:
            return str(ipaddress.IPv4Address(value))
        except ValueError as exc:
            raise ValueError(f"{value!r} is not an IPv4 address") from exc

    @model_validator(mode="after")
    def _inside(self) -> Wifi:
        net = ipaddress.IPv4Network(self.network)
        first, last = ipaddress.IPv4Address(self.dhcp_first), ipaddress.IPv4Address(self.dhcp_last)
        for name, address in (
            ("island_address", self.island_address),
            ("dhcp_first", first),
            ("dhcp_last", last),
        ):
            if ipaddress.IPv4Address(address) not in net or address in (
                net.network_address,
                net.broadcast_address,
            ):
                raise ValueError(f"{name} {address} is not a host address in {net}")
        if first > last:
            raise ValueError(f"dhcp_first {first} comes after dhcp_last {last}")
        if first <= ipaddress.IPv4Address(self.island_address) <= last:
            raise ValueError(f"island_address {self.island_address} is inside the DHCP range")
        return self

    @property
    def clients(self) -> int:
        return int(ipaddress.IPv4Address(self.dhcp_last)) - int(ipaddress.IPv4Address(self.dhcp_first)) + 1


class Trygghetspunkt(_Model):
    id: str = Field(description="short name used in file and host names, e.g. biblioteket")
    name: str = Field(min_length=2)
    address: str = Field(min_length=2, description="street address, as on the poster")
    opening_hours: str = Field(min_length=1)
    water: bool = False
    heat: bool = False
    toilets: bool = False
    charging: bool = False
    phone_112: bool = Field(False, description="a phone residents can use to call 112")
    status: str = Field(
        "Öppen vid kris.", min_length=1, max_length=200, description="shown on the crisis page"
    )
    wifi: Wifi

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError(
                "use lower-case letters, digits and '-', at most 31 characters (e.g. biblioteket)"
            )
        return value


class Uplink(_Model):
    interface: str = Field("eth0", pattern=r"^[a-zA-Z0-9_.-]{1,15}$")
    lan_interface: str = Field("eth1", pattern=r"^[a-zA-Z0-9_.-]{1,15}$")


class Resolver(_Model):
    upstreams: list[str] = Field(min_length=1, description="the stadsnät's or ISP's resolvers")

    @field_validator("upstreams")
    @classmethod
    def _upstreams(cls, value: list[str]) -> list[str]:
        out = []
        for upstream in value:
            try:
                out.append(str(ipaddress.ip_address(upstream)))
            except ValueError as exc:
                raise ValueError(f"{upstream!r} is not an IP address") from exc
        return out


class Certificate(_Model):
    """Where the island's certificate for the crisis name comes from (see docs/https.md)."""

    source: Literal["central", "manual", "none"] = "central"
    central_url: str = Field("", description="with source: central, the municipality's issuing service")

    @model_validator(mode="after")
    def _url(self) -> Certificate:
        if self.source == "central" and not self.central_url.startswith("https://"):
            raise ValueError(
                "with source: central, central_url is the https:// address of the issuing service"
            )
        return self


class Region(_Model):
    hub: str = Field(description="the region hub's leaf-node address, host:port")

    @field_validator("hub")
    @classmethod
    def _hub(cls, value: str) -> str:
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{value!r} is not host:port (e.g. nats-hub.kommun.example:7422)")
        return value


class Editor(_Model):
    name: str = Field(pattern=r"^[a-z][a-z0-9._-]{1,31}$")
    full_name: str = ""


class StandingNotice(_Model):
    """What the crisis page says before the island has heard from the municipality's feed."""

    updated: datetime
    text: str = Field(min_length=10, max_length=2000)

    @field_validator("updated")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("give the time with its UTC offset, e.g. 2026-11-01T08:00:00+01:00")
        return value


class SiteFile(_Model):
    municipality: Municipality
    standing_notice: StandingNotice
    crisis_name: str
    trygghetspunkter: list[Trygghetspunkt] = Field(min_length=1)
    uplink: Uplink = Uplink()
    resolver: Resolver
    certificate: Certificate = Certificate(source="none")
    region: Region | None = None
    editors: list[Editor] = []
    registry_days: int = Field(30, ge=1, le=365, description="days before safe-and-well records are deleted")

    @field_validator("crisis_name")
    @classmethod
    def _crisis_name(cls, value: str) -> str:
        return _hostname(value)

    @model_validator(mode="after")
    def _consistent(self) -> SiteFile:
        if not (
            self.crisis_name == self.municipality.domain
            or self.crisis_name.endswith("." + self.municipality.domain)
        ):
            raise ValueError(
                f"crisis_name {self.crisis_name} is not in the municipality's domain {self.municipality.domain}: "
                "residents' phones know the municipality's name and its HSTS policy"
            )
        ids = [t.id for t in self.trygghetspunkter]
        if len(set(ids)) != len(ids):
            raise ValueError(f"trygghetspunkter ids repeat: {sorted({i for i in ids if ids.count(i) > 1})}")
        nets = [ipaddress.IPv4Network(t.wifi.network) for t in self.trygghetspunkter]
        for i, a in enumerate(nets):
            for b in nets[i + 1 :]:
                if a.overlaps(b):
                    raise ValueError(f"Wi-Fi networks {a} and {b} overlap; each trygghetspunkt needs its own")
        return self

    def trygghetspunkt(self, ident: str) -> Trygghetspunkt:
        for place in self.trygghetspunkter:
            if place.id == ident:
                return place
        raise KeyError(
            f"no trygghetspunkt {ident!r} in the site file; there are {[t.id for t in self.trygghetspunkter]}"
        )

    @property
    def portal_api(self) -> str:
        """The RFC 8908 captive-portal API, announced in DHCP option 114 (RFC 8910)."""
        return f"https://{self.crisis_name}/api/captive"


def load_site(path: str | Path) -> SiteFile:
    return load_model(
        path,
        SiteFile,
        error=SiteFileError,
        what="a site file: a mapping with municipality, crisis_name, trygghetspunkter, resolver",
    )
