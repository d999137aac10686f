"""Polling the municipality's central feed while the uplink works.

Polite: If-None-Match with the last ETag (a 304 costs the municipality nothing),
backoff on errors and on 429 / Retry-After. Careful: a body larger than MAX_BODY is
cut off and refused, a feed that does not parse or validate is refused whole, and in
every failure the last good content stays and the failure is logged and recorded so
the page can say when the island last heard from the municipality.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
from pathlib import Path

import httpx

from services.crisis_site.feeds import FeedError, parse_feed
from services.crisis_site.store import Store, localnow

log = logging.getLogger("crisis_site.sync")

MAX_BODY = 1024 * 1024  # a real feed of active alerts is a few kB
MAX_BACKOFF = 300.0


class FeedPoller:
    def __init__(
        self,
        store: Store,
        url: str,
        host: str | None = None,
        interval: float = 30.0,
        timeout: float | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        roots: str | None = None,
    ) -> None:
        self.store = store
        self.url = url
        self.interval = interval
        self._headers = {"Host": host} if host else {}
        self._etag: str | None = None
        self._failures = 0
        self._task: asyncio.Task[None] | None = None
        # A poll never takes much longer than the interval, so a cut shows on the page quickly.
        timeout = timeout if timeout is not None else min(5.0, max(1.0, interval))
        # The system's roots, and the island's own trust store when it names one (the TLS settings'
        # roots): read once it is there, since a rehearsal's simulated public CA appears after start.
        self._roots = Path(roots) if roots else None
        self._verify = ssl.create_default_context()
        self._client = httpx.AsyncClient(
            timeout=timeout, trust_env=False, follow_redirects=False, transport=transport, verify=self._verify
        )

    def _load_roots(self) -> None:
        if self._roots is not None and self._roots.exists():
            self._verify.load_verify_locations(cafile=str(self._roots))
            self._roots = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="feed-poller")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._client.aclose()

    async def _run(self) -> None:
        while True:
            delay = await self.poll_once()
            await asyncio.sleep(delay)

    def _backoff(self, retry_after: float | None = None) -> float:
        """Capped exponential backoff (with jitter) when the municipality answers badly."""
        self._failures += 1
        delay: float = min(self.interval * (2 ** (self._failures - 1)), MAX_BACKOFF)
        if retry_after is not None:
            delay = max(delay, min(retry_after, MAX_BACKOFF))
        return delay * random.uniform(0.9, 1.0)

    async def poll_once(self) -> float:
        """One poll; returns how long to wait before the next."""
        self._load_roots()
        headers = dict(self._headers)
        if self._etag:
            headers["If-None-Match"] = self._etag
        try:
            async with self._client.stream("GET", self.url, headers=headers) as response:
                if response.status_code == 304:
                    self._failures = 0
                    self.store.record_not_modified(localnow())
                    return self.interval
                if response.status_code == 429 or response.status_code >= 500:
                    retry = response.headers.get("retry-after")
                    seconds = float(retry) if retry and retry.isdigit() else None
                    return self._fail(f"the feed answered HTTP {response.status_code}", seconds)
                if response.status_code != 200:
                    return self._fail(f"the feed answered HTTP {response.status_code}")
                declared = response.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > MAX_BODY:
                    return self._fail(f"the feed is {declared} bytes, more than the {MAX_BODY} allowed")
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_BODY:
                        return self._fail(f"the feed is more than the {MAX_BODY} bytes allowed")
                content_type = response.headers.get("content-type", "")
                etag = response.headers.get("etag")
        except httpx.HTTPError as exc:
            # Unreachable (a cut uplink) loads nobody: keep the interval, so the island is
            # fresh again within one poll interval of the uplink's return.
            self._fail(f"cannot reach the feed: {type(exc).__name__}")
            return self.interval
        try:
            messages = parse_feed(bytes(body), content_type)
        except FeedError as exc:
            return self._fail(f"refused the feed: {exc}")
        skipped = self.store.replace_central(messages, localnow())
        for identifier in skipped:
            log.warning("feed message %s not applied: an island message has that identifier", identifier)
        self._etag = etag
        self._failures = 0
        log.info("feed applied: %d messages", len(messages))
        return self.interval

    def _fail(self, reason: str, retry_after: float | None = None) -> float:
        log.warning("%s (%s); keeping the last good content", reason, self.url)
        self.store.record_sync_failure(reason)
        return self._backoff(retry_after)
