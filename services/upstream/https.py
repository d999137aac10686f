"""The municipality's sites over HTTPS (HSTS, as a real HTTPS-only municipality) and its certificate service.

At start the municipality gets a certificate for its own sites from the public CA, through the
same central service the islands use, then opens HTTPS. Responses over HTTPS for its names carry
`Strict-Transport-Security` with `includeSubDomains`: a phone that visited once will only ever
use HTTPS for the crisis name too. `POST /api/island-certificate` answers an island's CSR, for
the islands it knows and their own names only (:mod:`services.upstream.islands`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from acme import crypto_util
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response

from services.tls.certificate import key_pem, write_pair
from services.tls.context import server_context
from services.tls.listener import TLSPort

from .acme_issuer import CentralIssuer, IssueRefused
from .islands import IslandCredentials, Refused

log = logging.getLogger("upstream.https")

HSTS = "max-age=31536000; includeSubDomains"
MUNICIPALITY_ZONE = "kommun.example"
# The municipality's own sites: its main site, the central crisis site, and its certificate service
# (the islands' ``certificate.central_url`` in the example site file).
MUNICIPALITY_SITES = (
    "kommun.example",
    "www.kommun.example",
    "krisinfo.kommun.example",
    "certifikat.kommun.example",
)
CSR_LIMIT = 16 * 1024


def add_https(app: FastAPI, issuer: CentralIssuer, hosts: set[str], islands: IslandCredentials) -> None:
    """HSTS on the municipality's HTTPS answers, and the islands' certificate service (for ``islands`` only)."""

    @app.middleware("http")
    async def strict_transport(request: Request, call_next):  # type: ignore[no-untyped-def]
        response: Response = await call_next(request)
        host = (request.headers.get("host") or "").split(":")[0].lower().rstrip(".")
        if request.url.scheme == "https" and host in hosts:
            response.headers["strict-transport-security"] = HSTS
        return response

    @app.post("/api/island-certificate")
    async def island_certificate(request: Request) -> Response:
        csr = await request.body()
        if len(csr) > CSR_LIMIT:
            return PlainTextResponse("the request is too large", status_code=413)
        try:
            island = islands.authenticate(request.headers.get("authorization"))  # who asks, first
            islands.allow(island, issuer.names_of(csr))
            chain = await asyncio.to_thread(issuer.issue, csr)
        except Refused as exc:
            log.warning("refused a certificate request: %s", exc)
            return PlainTextResponse(f"refused: {exc}", status_code=exc.status)
        except IssueRefused as exc:
            return PlainTextResponse(f"refused: {exc}", status_code=400)
        except Exception as exc:  # the CA did not answer or refused: the island retries later
            log.warning("could not issue: %s", exc)
            return PlainTextResponse(f"the public CA did not issue: {exc}", status_code=502)
        return Response(chain, media_type="application/pem-certificate-chain")


class MunicipalityTLS:
    """Gets the municipality's own certificate (retrying until the CA answers), then opens HTTPS."""

    def __init__(self, issuer: CentralIssuer, pair_file: Path) -> None:
        self.issuer, self.pair_file = issuer, pair_file
        self.prepare: Callable[[], object] | None = None  # blocking, once: Pebble's root published

    async def run(self, tls: TLSPort) -> None:
        if self.prepare is not None:
            await asyncio.to_thread(self.prepare)
        key = ec.generate_private_key(ec.SECP256R1())
        csr = crypto_util.make_csr(key_pem(key), list(MUNICIPALITY_SITES))
        while True:
            try:
                chain = await asyncio.to_thread(self.issuer.issue, csr)
                break
            except Exception as exc:  # Pebble starting beside us: try again shortly
                log.info("no certificate yet for the municipality's sites (%s); retrying", exc)
                await asyncio.sleep(0.5)
        write_pair(self.pair_file.parent, chain, key_pem(key), self.pair_file.name)
        await tls.serve(server_context(self.pair_file))
