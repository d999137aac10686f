"""The island resolver's configuration: where it listens, its local zones, its upstreams."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Endpoint(_Model):
    host: str
    port: int = Field(53, ge=1, le=65535)


class LocalZone(_Model):
    """Like Unbound's local-zone with its local-data.

    static: the island answers every name in the zone itself (data, NODATA or NXDOMAIN);
    transparent: the island answers names it has data for and forwards the rest.
    """

    name: str
    type: Literal["static", "transparent"] = "static"
    data: str = Field("", description="records in zone-file syntax, names relative to the zone")


# Who may use the resolver when the configuration does not say (Unbound allows only
# localhost by default; an island's clients are on private networks, so those too).
DEFAULT_ALLOW = [
    "127.0.0.0/8",
    "::1/128",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "fc00::/7",
    "fe80::/10",
]


class ServeStale(_Model):
    """RFC 8767 serve-stale (Unbound: serve-expired*)."""

    enabled: bool = True
    # Unbound: serve-expired-ttl. How long after expiry an answer may still be served.
    max_stale: float = Field(86400, ge=0)
    # Unbound: serve-expired-reply-ttl. The TTL a stale answer is given.
    reply_ttl: int = Field(30, ge=0, le=3600)
    # Unbound: serve-expired-client-timeout. How long a client with a stale answer waits on upstreams.
    client_timeout: float = Field(1.8, gt=0)


class Cache(_Model):
    # Unbound: msg-cache-size / rrset-cache-size, but counted in answers, not bytes.
    max_entries: int = Field(10000, ge=1)
    # Unbound: cache-min-ttl / cache-max-ttl / cache-max-negative-ttl.
    min_ttl: int = Field(0, ge=0)
    max_ttl: int = Field(86400, ge=1)
    max_negative_ttl: int = Field(3600, ge=0)
    # Unbound: prefetch. Refresh an entry asked for at least twice in its last tenth of life.
    prefetch: bool = True


class Health(_Model):
    # RFC 8767 section 5 says every 30 s at most; the island rechecks every 2 s, so a restored uplink
    # is noticed within two (one query every two to a stadsnät resolver costs nothing; a rehearsal lasts
    # seconds). (Unbound: infra-host-ttl / infra-keep-probing.)
    recheck_interval: float = Field(2.0, gt=0)
    # Timeouts in a row before an upstream counts as down (one makes it suspect).
    down_after: int = Field(2, ge=1)


class RateLimit(_Model):
    """Response-rate limiting per client address (Unbound: ip-ratelimit).

    On by default, at a level a busy trygghetspunkt never reaches even behind one NAT
    address (docs/resolver.md says why 2,000): it bounds what one address can make the
    resolver do and reflect, while every other address keeps its own share. The island's
    own names are answered even over the limit (services/resolver/resolver.py).
    """

    responses_per_second: float = Field(2000, ge=0, description="0 turns it off")
    burst: float = Field(4000, ge=0, description="0: one second's worth")
    # Per address: residents of one Wi-Fi share a /24 (and a /64), so a wider prefix would let
    # one of them limit all the others.
    ipv4_prefix: int = Field(32, ge=8, le=32)
    ipv6_prefix: int = Field(128, ge=16, le=128)
    # Every nth limited UDP query is answered with TC (slip), so real clients retry over TCP.
    slip: int = Field(2, ge=0)
    # Queries that need work (no ready answer: new names, cache misses, TCP), per address, UDP and
    # TCP alike, dropped over the limit. A ready answer costs microseconds, work a few hundred.
    work_per_second: float = Field(200, ge=0, description="0 turns it off")
    work_burst: float = Field(400, ge=0, description="0: one second's worth")

    def for_work(self) -> RateLimit:
        """The work limit as a rate limit of its own (same prefixes, no slip: over it, a query is dropped)."""
        return RateLimit(
            responses_per_second=self.work_per_second,
            burst=self.work_burst,
            ipv4_prefix=self.ipv4_prefix,
            ipv6_prefix=self.ipv6_prefix,
            slip=0,
            work_per_second=0,
            work_burst=0,
        )


class Limits(_Model):
    # Unbound: incoming-num-tcp and tcp-idle-timeout.
    tcp_connections: int = Field(256, ge=1)
    # Unbound: tcp-connection-limit. A quarter of the slots: one address cannot take them all.
    tcp_connections_per_client: int = Field(64, ge=1)
    tcp_idle_seconds: float = Field(10.0, gt=0)


# The connectivity-check hosts of every common OS (docs/phones.md): Android and ChromeOS, Apple,
# Windows (NCSI), Firefox, NetworkManager (Ubuntu, Fedora, GNOME).
DEFAULT_CHECK_NAMES = [
    "connectivitycheck.gstatic.com",
    "connectivitycheck.android.com",
    "clients3.google.com",
    "www.google.com",
    "play.googleapis.com",
    "captive.apple.com",
    "netcts.cdn-apple.com",
    "www.apple.com",
    "www.msftconnecttest.com",
    "dns.msftncsi.com",
    "www.msftncsi.com",
    "detectportal.firefox.com",
    "connectivity-check.ubuntu.com",
    "nmcheck.gnome.org",
]


class IslandMode(_Model):
    """Captive-portal detection while the uplink is down: phones' check names answered with the portal.

    While every upstream is down the check names get the portal's address, so each OS shows its
    sign-in sheet with the crisis page instead of "no internet"; while any upstream works they are
    forwarded as usual, so the island never hijacks a working internet.
    """

    portal: str = Field(description="the island's web address phones are sent to (IPv4)")
    names: list[str] = Field(default_factory=lambda: list(DEFAULT_CHECK_NAMES))
    # 5 s, for island-mode answers and for forwarded answers to these names alike: a phone that asked
    # just before a cut (or a restore) asks again within seconds, and checks are rare enough that the
    # extra queries cost nothing.
    ttl: int = Field(5, ge=1, le=300)
    # How often the island asks its upstreams by itself, so it notices a cut even when every answer a
    # phone needs is still in the cache (the check names' real addresses among them): a cut shows
    # within this and a forward budget.
    heartbeat: float = Field(0.5, gt=0, le=60)

    @field_validator("portal")
    @classmethod
    def _portal(cls, value: str) -> str:
        try:
            return str(ipaddress.IPv4Address(value))
        except ValueError as exc:
            raise ValueError(f"{value!r} is not an IPv4 address") from exc


class ResolverConfig(_Model):
    listen: Endpoint
    local_zones: list[LocalZone] = []
    upstreams: list[Endpoint] = []
    # Total time a client waits on the upstreams before it gets SERVFAIL; below the
    # 1.8 s client response timer of RFC 8767 so stub resolvers do not retry first.
    forward_timeout: float = Field(1.5, gt=0, le=10)
    # Client networks allowed to query (Unbound: access-control ... allow); others get REFUSED.
    allow: list[str] = Field(default_factory=lambda: list(DEFAULT_ALLOW))
    cache: Cache = Cache()
    serve_stale: ServeStale = ServeStale()
    health: Health = Health()
    rate_limit: RateLimit = RateLimit()
    limits: Limits = Limits()
    # Where Prometheus metrics (and the upstreams' state) are served over HTTP; none when absent.
    metrics: Endpoint | None = None
    # Captive-portal detection while the uplink is down; off when absent.
    island_mode: IslandMode | None = None

    @field_validator("allow")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError as exc:
                raise ValueError(f"{network!r} is not a network (e.g. 10.20.0.0/24)") from exc
        return value


class ConfigError(ValueError):
    pass


def load_config(path: str | Path) -> ResolverConfig:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read resolver configuration: {exc}") from exc
    try:
        return ResolverConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{path}: {problems}") from exc
