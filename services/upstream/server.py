"""One process for the simulated internet: its DNS and its web servers on one event loop."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from services.dns import DNSServer

from .acme_issuer import CentralIssuer, ChallengeRecords
from .config import UpstreamConfig
from .dns import AuthoritativeDNS
from .https import MUNICIPALITY_ZONE, MunicipalityTLS, add_https
from .islands import Island, IslandCredentials, issue_credential
from .web import MUNICIPALITY_HOSTS, create_app


def create_upstream_app(config: UpstreamConfig) -> FastAPI:
    app = create_app()
    zones = config.build_zones()
    records = ChallengeRecords()
    app.state.tls_keeper = None
    if config.https is not None and config.acme is not None:
        issuer = CentralIssuer(config.acme.directory, config.acme.ca_bundle, MUNICIPALITY_ZONE, records)
        credentials = IslandCredentials()
        for island in config.acme.islands:
            token = issue_credential(island.credential_file)
            credentials.add(token, Island(island.label, tuple(n.lower() for n in island.names)))
        add_https(app, issuer, MUNICIPALITY_HOSTS, credentials)
        app.state.tls_keeper = MunicipalityTLS(issuer, config.acme.certificate_file)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        dns = DNSServer(AuthoritativeDNS(zones, records).handle, config.dns.host, config.dns.port)
        await dns.start()
        try:
            yield
        finally:
            await dns.stop()

    app.router.lifespan_context = lifespan
    return app
