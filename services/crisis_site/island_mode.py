"""Whether the island is in island mode, as its resolver says: the RFC 8908 API's ``captive``.

The resolver decides (every upstream down: the uplink is cut) and publishes it as a metric; the
site reads it once a second. Unknown (no resolver named, or it does not answer yet) counts as not
captive: the API never tells a phone on a working internet that it is behind a portal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import httpx

from services.resolver.metrics import island_mode

log = logging.getLogger(__name__)


class IslandModeWatch:
    def __init__(self, metrics_url: str | None, interval: float = 1.0) -> None:
        self.metrics_url = metrics_url
        self.interval = interval
        self.captive = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.metrics_url is not None:
            self._task = asyncio.ensure_future(self._watch())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _watch(self) -> None:
        assert self.metrics_url is not None
        async with httpx.AsyncClient(timeout=1.0) as client:
            while True:
                try:
                    response = await client.get(self.metrics_url)
                    mode = island_mode(response.text) if response.status_code == 200 else None
                except httpx.HTTPError:
                    mode = None  # keep the last word: a busy resolver is not a change of mode
                if mode is not None and mode != self.captive:
                    log.warning("island mode %s (from the resolver)", "on" if mode else "off")
                    self.captive = mode
                await asyncio.sleep(self.interval)
