"""The island's HTTPS: its certificate kept on the island, checked, renewed by the municipality, served.

The island holds its own private key (in its TLS folder, with the chain: one file, replaced at
once). While the uplink is up it asks the municipality's certificate service to answer a new
CSR when a third of the certificate's lifetime is left; cut off, it keeps serving the
certificate it has until its not_after. A page is never lost to TLS: with no valid certificate
the HTTPS port stays closed (browsers fall back or say so at once), HTTP keeps answering, and
the reason is in the log and in `status.json` beside the certificate.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from acme import crypto_util
from cryptography.hazmat.primitives.asymmetric import ec
from prometheus_client import CollectorRegistry, Gauge, write_to_textfile

from services.crisis_site import tls_notice
from services.tls.certificate import (
    PAIR_FILE,
    CertificateInfo,
    CertificateProblem,
    check,
    key_pem,
    write_pair,
)
from services.tls.context import server_context
from services.tls.listener import TLSPort

log = logging.getLogger("crisis_site.tls")

STATUS_FILE = "status.json"
# Prometheus text format for node_exporter's textfile collector (--collector.textfile.directory=tls/).
METRICS_FILE = "certificate.prom"
RENEW_WITH_FRACTION_LEFT = 1 / 3  # as Let's Encrypt's clients: renew with a third of the lifetime left
FIRST_RETRY_SECONDS = 1.0  # with no certificate: the first retry, doubled up to the check interval


@dataclass(frozen=True)
class SiteTLSConfig:
    folder: Path  # the island's TLS folder: island.pem (key and chain), status.json
    name: str  # the crisis name the certificate must cover
    roots: Path | None  # the public CA's root(s); None: the chain is not checked
    host: str
    port: int
    issuer_url: str | None = None  # the municipality's certificate service; None: installed by hand only
    issuer_host: str | None = None
    credential_file: Path | None = None  # what the island proves itself to the certificate service with
    check_interval: float = 30.0
    no_issuer: str = ""  # why there is no certificate service (said while no certificate is there)

    @classmethod
    def from_settings(cls, settings: dict[str, Any], base: Path, host: str, port: int) -> SiteTLSConfig:
        """From the site configuration's "tls" object; relative paths are taken from ``base``."""
        roots = settings.get("roots")
        return cls(
            folder=base / settings["folder"],
            name=settings["name"],
            roots=base / roots if roots else None,
            host=host,
            port=port,
            issuer_url=settings.get("issuer_url"),
            issuer_host=settings.get("issuer_host"),
            credential_file=base / settings["credential_file"] if settings.get("credential_file") else None,
            check_interval=float(settings.get("check_interval", 30.0)),
            no_issuer=settings.get("no_issuer", ""),
        )


class SiteTLS:
    """Runs beside the HTTP server: keeps HTTPS open while a valid certificate is there."""

    def __init__(self, config: SiteTLSConfig) -> None:
        self.config = config
        self.pair = config.folder / PAIR_FILE
        self._served: tuple[int, int] | None = None  # (mtime_ns, size) of the file being served
        self._reason = ""
        self._renewal_error = ""
        self._info: CertificateInfo | None = None

    async def run(self, tls: TLSPort) -> None:
        retry = FIRST_RETRY_SECONDS
        while True:
            try:
                await self.step(tls)
            except Exception:  # never let TLS take the site down; say it and try again
                log.exception("HTTPS check failed")
            if self._info is None:
                # Nothing to serve yet (a box just installed, its certificate service still starting):
                # ask again soon, backing off to the usual interval, rather than stay on HTTP for it.
                await asyncio.sleep(min(retry, self.config.check_interval))
                retry *= 2
            else:
                retry = FIRST_RETRY_SECONDS
                await asyncio.sleep(self.config.check_interval)

    def _check(self) -> CertificateInfo:
        roots = self.config.roots
        if roots is not None and not roots.exists():
            raise CertificateProblem(f"{roots}: the public CA's root is not there (yet)")
        if not self.pair.exists():
            why = f"; {self.config.no_issuer}" if self.config.no_issuer else ""
            raise CertificateProblem(f"{self.pair}: no certificate yet{why}")
        return check(self.pair, self.pair, self.config.name, roots)

    async def step(self, tls: TLSPort) -> None:
        try:
            info: CertificateInfo | None = self._check()
        except CertificateProblem as exc:
            info, problem = None, str(exc)
        if (info is None or info.fraction_left() < RENEW_WITH_FRACTION_LEFT) and self.config.issuer_url:
            if await self.renew():
                try:
                    info = self._check()
                except CertificateProblem as exc:
                    info, problem = None, str(exc)
        if info is None:
            if tls.is_open and self._info is not None and self._info.days_left() >= 0:
                # The file went bad by hand: keep serving what was checked before.
                self._off_reason(f"kept the served certificate; the new file is refused: {problem}")
            else:
                await tls.close(problem)
                self._served, self._info = None, None
                self._off_reason(problem)
        else:
            stamp = self.pair.stat()
            seen = (stamp.st_mtime_ns, stamp.st_size)
            if seen != self._served or not tls.is_open:
                await tls.serve(server_context(self.pair))
                log.info(
                    "HTTPS serving %s (issuer %s, until %s)",
                    ", ".join(info.names),
                    info.issuer,
                    info.not_after.isoformat(timespec="seconds"),
                )
                self._served, self._info, self._reason = seen, info, ""
        self._write_status(tls)

    def _off_reason(self, reason: str) -> None:
        if reason != self._reason:
            log.warning("HTTPS off: %s (HTTP keeps answering)", reason)
        self._reason = reason

    async def renew(self) -> bool:
        """Ask the municipality to sign a CSR for a new key; True when a checked certificate was stored."""
        key = ec.generate_private_key(ec.SECP256R1())
        csr = crypto_util.make_csr(key_pem(key), [self.config.name])
        headers = {"content-type": "application/pkcs10"}
        if self.config.issuer_host:
            headers["host"] = self.config.issuer_host
        if self.config.credential_file is not None:
            try:
                token = self.config.credential_file.read_text(encoding="ascii").strip()
            except OSError:
                return self._renewal_failed(
                    f"no credential for the municipality's certificate service yet ({self.config.credential_file})"
                )
            headers["authorization"] = f"Bearer {token}"
        assert self.config.issuer_url is not None
        # An https:// service is checked against the same roots as the certificates (the box's trust store).
        verify: ssl.SSLContext | bool = True
        if self.config.roots is not None and self.config.roots.exists():
            verify = ssl.create_default_context(cafile=str(self.config.roots))
        try:
            async with httpx.AsyncClient(
                timeout=httpx.Timeout(60.0, connect=5.0), trust_env=False, verify=verify
            ) as client:
                response = await client.post(self.config.issuer_url, content=csr, headers=headers)
        except httpx.HTTPError as exc:
            return self._renewal_failed(f"the municipality's certificate service does not answer ({exc!r})")
        if response.status_code != 200:
            return self._renewal_failed(f"the municipality refused: {response.status_code} {response.text}")
        pending = self.config.folder / "pending"
        candidate = write_pair(pending, response.content, key_pem(key))
        try:
            check(candidate, candidate, self.config.name, self.config.roots)
        except CertificateProblem as exc:
            return self._renewal_failed(f"the certificate received is refused: {exc}")
        write_pair(self.config.folder, response.content, key_pem(key))
        os.unlink(candidate)
        self._renewal_error = ""
        log.info("a new certificate for %s from the municipality", self.config.name)
        return True

    def _renewal_failed(self, why: str) -> bool:
        if why != self._renewal_error:
            log.warning("certificate renewal: %s; serving the current certificate while it is valid", why)
        self._renewal_error = why
        return False

    def status(self, tls: TLSPort) -> dict[str, Any]:
        return {
            "https": "on" if tls.is_open else "off",
            "reason": self._reason,
            "port": self.config.port,
            "certificate": self._info.to_dict() if self._info else None,
            "renewal_error": self._renewal_error,
            "checked_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }

    def _write_metrics(self, tls: TLSPort) -> None:
        registry = CollectorRegistry()
        labels = {"name": self.config.name}
        Gauge("odrift_https_up", "1 while the island serves HTTPS", ["name"], registry=registry).labels(
            **labels
        ).set(1 if tls.is_open else 0)
        if self._info is not None:
            Gauge(
                "odrift_certificate_days_left",
                "days until the island's certificate expires",
                ["name", "issuer"],
                registry=registry,
            ).labels(issuer=self._info.issuer, **labels).set(self._info.days_left())
            Gauge(
                "odrift_certificate_not_after_seconds",
                "when the island's certificate expires (Unix time)",
                ["name"],
                registry=registry,
            ).labels(**labels).set(self._info.not_after.timestamp())
        write_to_textfile(str(self.config.folder / METRICS_FILE), registry)

    def _write_status(self, tls: TLSPort) -> None:
        tls_notice.update(self.config.name, self._info, self._reason, self._renewal_error)
        self.config.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.config.folder / (STATUS_FILE + ".tmp")
        tmp.write_text(json.dumps(self.status(tls), indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, self.config.folder / STATUS_FILE)
        self._write_metrics(tls)
