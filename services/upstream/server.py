"""One process for the simulated internet: its DNS and its web servers on one event loop."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from services.dns import DNSServer

from .config import UpstreamConfig
from .dns import AuthoritativeDNS
from .web import create_app


def create_upstream_app(config: UpstreamConfig) -> FastAPI:
    app = create_app()
    zones = config.build_zones()

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        dns = DNSServer(AuthoritativeDNS(zones).handle, config.dns.host, config.dns.port)
        await dns.start()
        try:
            yield
        finally:
            await dns.stop()

    app.router.lifespan_context = lifespan
    return app
