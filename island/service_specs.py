"""The island's services and the simulated world around it, described once for every backend.

A backend decides where each service runs (a loopback address, a namespace, a
container); what runs, with which configuration and how to tell it is healthy,
is the same everywhere.
"""

from __future__ import annotations

import asyncio
import ipaddress
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx

from services.dns import query
from services.ports import Port
from services.resolver.metrics import upstream_states
from services.tls import https_port
from services.upstream import pebble
from services.upstream.islands import CREDENTIAL_FILE

from .topology import Addresses

HealthCheck = Callable[[], Awaitable[None]]

# Where the island resolver serves its metrics (CoreDNS's port), on the resolver's address.
RESOLVER_METRICS_PORT = 9153
FEED_POLL_SECONDS = 3.0  # how stale the island's copy of the municipality's feed may get
TLS_FOLDER = "tls"  # the island's key and certificate, in its data folder beside its database
SITE_DATABASE = "site.sqlite3"  # in the island's data folder, kept by `island down`
TLS_CHECK_SECONDS = 2.0  # how often the site rechecks its certificate (renewal, expiry, a new file)


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    title: str
    module: str
    config: dict[str, Any] | None
    args: tuple[str, ...]
    ports: tuple[Port, ...]
    where: str
    health: HealthCheck = field(compare=False, repr=False)
    # Checked once more when the island starts, with its uplink up: the service also sees the
    # internet (the resolver its upstream; otherwise it would start in island mode).
    connected: HealthCheck | None = field(default=None, compare=False, repr=False)
    # A program run as itself (nats-server) rather than `python -m module`; `module` is then the
    # marker that tells its process apart (a part of the program's path).
    program: str | None = None

    def argv(self, config_path: str | None) -> list[str]:
        if self.program is not None:
            return [self.program, *self.args]
        argv = [sys.executable, "-m", self.module, *self.args]
        if config_path is not None:
            argv += ["--config", config_path]
        return argv


async def http_ok(url: str) -> None:
    async with httpx.AsyncClient(timeout=1.0, trust_env=False) as client:
        response = await client.get(url)
        response.raise_for_status()


async def _all(*checks: Awaitable[None]) -> None:
    await asyncio.gather(*checks)


async def dns_ok(name: str, host: str, port: int) -> None:
    answer = await query(name, "A", host, port, timeout=1.0)
    if not answer.rr:
        raise RuntimeError(f"{host}:{port} has no answer for {name}")


def _network_of(address: str) -> str:
    """The /24 an IPv4 host is on: the island's client network."""
    return str(ipaddress.ip_network(f"{address}/24", strict=False))


def _client_networks(t: Addresses) -> list[str]:
    """Who may use the island resolver: every place's network (trygghetspunkter, stadsnät homes),
    the island's own network (its router and health checks), and the host itself (`dig`)."""
    networks = list(t.client_networks) or [
        _network_of(h) for h in (t.resident_address, *t.places.values(), t.resolver_address)
    ]
    return [*dict.fromkeys(networks), "127.0.0.1/32", "::1/128"]


async def resolver_upstreams(addresses: Addresses) -> dict[str, str] | None:
    """Each upstream's state (up, suspect, down) as the island resolver sees it; None if it does not say."""
    return await upstreams_at(web_url(addresses.resolver_address, RESOLVER_METRICS_PORT, "/metrics"))


async def upstreams_at(url: str) -> dict[str, str] | None:
    """Each upstream's state from the resolver's metrics at ``url``; None if they cannot be read."""
    try:
        async with httpx.AsyncClient(timeout=1.0, trust_env=False) as client:
            response = await client.get(url)
            response.raise_for_status()
    except httpx.HTTPError:
        return None
    return upstream_states(response.text)


async def _sees_upstream(addresses: Addresses) -> None:
    await sees_upstream(web_url(addresses.resolver_address, RESOLVER_METRICS_PORT, "/metrics"))


async def sees_upstream(metrics_url: str) -> None:
    """Healthy once the resolver whose metrics are at ``metrics_url`` has every upstream up."""
    states = await upstreams_at(metrics_url)
    if not states or any(state != "up" for state in states.values()):
        raise RuntimeError(f"the resolver does not reach the internet yet ({states})")


def web_url(host: str, port: int, path: str) -> str:
    return f"http://{host}:{port}{path}"


def island_services(
    addresses: Addresses,
    data_dir: Path | None = None,
    content: Path | None = None,
    public_ca: bool = True,
) -> list[ServiceSpec]:
    """The simulated internet and the island's two services.

    The island reaches the internet's DNS and web servers at ``internet_address``: the uplink
    relay on the local backend, the upstream host behind a router elsewhere. ``data_dir`` is where
    the site keeps its database (kept when the island stops); without one, beside its config.
    ``content`` is the site's first page (a site file's, rendered); without it, the bundled demo.
    Without ``public_ca`` the simulated internet runs no public CA even where Pebble is installed.
    """
    t = addresses
    internet_address = t.internet_address
    dns, http = t.dns_port, t.http_port
    https = _https(t, internet_address, data_dir, public_ca)
    return [
        ServiceSpec(
            name="upstream",
            title="simulated internet (outside DNS, the municipality's central site, phones' checks)",
            module="services.upstream",
            config={
                "dns": {"host": t.upstream_address, "port": dns},
                "http": {"host": t.upstream_address, "port": http},
                "web_address": internet_address,
                **https.upstream_config,
            },
            args=(),
            ports=(
                (t.upstream_address, dns, "udp"),
                (t.upstream_address, dns, "tcp"),
                (t.upstream_address, http, "tcp"),
                *https.upstream_ports,
            ),
            where=f"DNS {t.upstream_address}:{dns}, web {t.upstream_address}:{http}{https.upstream_where}",
            health=lambda: _all(
                http_ok(web_url(t.upstream_address, http, "/healthz")),
                dns_ok("www.kommun.example", t.upstream_address, dns),
                *https.upstream_health(),
            ),
        ),
        ServiceSpec(
            name="resolver",
            title="island resolver",
            module="services.resolver",
            config={
                "listen": {"host": t.resolver_address, "port": dns},
                "local_zones": [
                    {"name": t.crisis_name, "type": "static", "data": f"@ 30 IN A {t.site_address}\n"},
                ],
                "upstreams": [{"host": internet_address, "port": dns}],
                "allow": _client_networks(t),
                "metrics": {"host": t.resolver_address, "port": RESOLVER_METRICS_PORT},
                # While the uplink is down, phones' checks are sent to the crisis site (docs/phones.md).
                "island_mode": {"portal": t.site_address},
            },
            args=(),
            ports=(
                (t.resolver_address, dns, "udp"),
                (t.resolver_address, dns, "tcp"),
                (t.resolver_address, RESOLVER_METRICS_PORT, "tcp"),
            ),
            where=f"{t.resolver_address}:{dns} (UDP and TCP)",
            health=lambda: dns_ok(t.crisis_name, t.resolver_address, dns),
            connected=lambda: _sees_upstream(t),
        ),
        ServiceSpec(
            name="site",
            title="crisis site",
            module="services.crisis_site",
            # Content on disk beside the other state; the municipality's feed polled through the uplink.
            config={
                "db": str(data_dir / SITE_DATABASE) if data_dir else SITE_DATABASE,
                "feed": web_url(internet_address, http, "/api/cap.xml"),
                "feed_host": "www.kommun.example",
                "poll_interval": FEED_POLL_SECONDS,
                "crisis_name": t.crisis_name,
                "resolver_metrics": web_url(t.resolver_address, RESOLVER_METRICS_PORT, "/metrics"),
                "tls": https.site_tls,
                **({"content": str(content)} if content is not None else {}),
            },
            args=("--host", t.site_address, "--port", str(http), "--https-port", str(https.port)),
            ports=((t.site_address, http, "tcp"), (t.site_address, https.port, "tcp")),
            where=t.site_url,
            health=lambda: http_ok(web_url(t.site_address, http, "/healthz")),
            # With a public CA to ask, the island has its certificate (and its HTTPS port) once up.
            connected=(lambda: tcp_open(t.site_address, https.port))
            if "issuer_url" in https.site_tls
            else None,
        ),
    ]


@dataclass(frozen=True)
class _HTTPS:
    """HTTPS settings of the simulated internet and the island (see docs/https.md)."""

    port: int
    upstream_config: dict[str, Any]
    upstream_ports: tuple[Port, ...]
    upstream_where: str
    site_tls: dict[str, Any]
    upstream_health: Callable[[], list[Awaitable[None]]]


def _https(t: Addresses, internet_address: str, data_dir: Path | None, public_ca: bool = True) -> _HTTPS:
    port = https_port(t.http_port)
    folder = str(data_dir / TLS_FOLDER) if data_dir else TLS_FOLDER
    credential = f"{folder}/{CREDENTIAL_FILE}"  # the island's, beside its key (docs/https.md)
    site_tls: dict[str, Any] = {
        # Kept with the island's data (not run state): a certificate outlives `island down` and a cut.
        "folder": folder,
        "name": t.crisis_name,
        "check_interval": TLS_CHECK_SECONDS,
    }
    if pebble.installed() is None or not public_ca:
        # No public CA: the island serves HTTP only (and HTTPS with a certificate installed by hand).
        return _HTTPS(port, {}, (), "", {**site_tls, "no_issuer": pebble.not_installed_reason()}, list)
    upstream = t.upstream_address
    return _HTTPS(
        port=port,
        upstream_config={
            "https": {"host": upstream, "port": port},
            "acme": {
                "directory": f"https://{upstream}:{pebble.ACME_PORT}/dir",
                "ca_bundle": pebble.LISTENER_CA_FILE,
                "pebble_dns": f"{upstream}:{t.dns_port}",
                "islands": [certificate_client(t, data_dir)],
            },
        },
        upstream_ports=(
            (upstream, port, "tcp"),
            (upstream, pebble.ACME_PORT, "tcp"),
            (upstream, pebble.MANAGEMENT_PORT, "tcp"),
        ),
        upstream_where=f", HTTPS {upstream}:{port}, public CA (Pebble) {upstream}:{pebble.ACME_PORT}",
        site_tls={
            **site_tls,
            "roots": pebble.PUBLIC_CA_FILE,
            "issuer_url": web_url(internet_address, t.http_port, "/api/island-certificate"),
            "issuer_host": "www.kommun.example",
            "credential_file": credential,
        },
        upstream_health=lambda: [tcp_open(upstream, port)],
    )


def certificate_client(t: Addresses, data_dir: Path | None) -> dict[str, Any]:
    """An island site the certificate service signs for: only its own name, and only with its credential
    (made in the site's data folder at the service's first start)."""
    folder = str(data_dir / TLS_FOLDER) if data_dir else TLS_FOLDER
    return {
        "label": f"the island at {t.site_address}",
        "names": [t.crisis_name],
        "credential_file": f"{folder}/{CREDENTIAL_FILE}",
    }


def with_certificate_clients(upstream: ServiceSpec, clients: list[dict[str, Any]]) -> ServiceSpec:
    """The simulated internet's certificate service, signing for these sites (a region's) instead."""
    config = upstream.config or {}
    if "acme" not in config:  # no public CA: nothing to sign
        return upstream
    return replace(upstream, config={**config, "acme": {**config["acme"], "islands": clients}})


async def tcp_open(host: str, port: int) -> None:
    """Something accepts connections on host:port (the municipality's HTTPS port: it has its certificate)."""
    _, writer = await asyncio.open_connection(host, port)
    writer.close()
