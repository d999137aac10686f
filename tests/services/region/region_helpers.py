"""A real region on loopback: nats-server processes for the hub and the islands, with the
configurations, credentials and streams the services/region package renders.

Each test region gets its own 127.<ISLAND_TEST_NET_BASE>.<n>.x addresses, so parallel sessions
never meet.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from contextlib import suppress
from pathlib import Path

from services.region import local
from services.region.local import free_port  # noqa: F401 - the tests' one way to a free port
from services.region.plan import Region
from services.region.replicator import Place, Replicator

NET_BASE = int(os.environ.get("ISLAND_TEST_NET_BASE", "43"))
_subnets = itertools.count(200 + os.getpid() % 40)


def plan(islands: list[str], hub_nodes: int = 1, retention: float = 3600.0) -> Region:
    return local.plan_local(islands, f"127.{NET_BASE}.{next(_subnets)}", hub_nodes, retention)


def start_region(region: Region, folder: Path, relayed: bool = False) -> local.LocalRegion:
    return local.start(region, folder, relayed)


class RunningReplicator:
    """A Replicator running in the test's event loop until stopped."""

    def __init__(self, place: Place) -> None:
        self.replicator = Replicator(place)
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Replicator:
        await self.replicator.connect()
        self._task = asyncio.create_task(self.replicator.run(self._stop, state_every=0.2))
        return self.replicator

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        if self._task is not None:
            with suppress(asyncio.CancelledError):
                await self._task
        await self.replicator.close()


async def eventually(check, timeout: float = 20.0, every: float = 0.1):
    """Wait until `check()` is truthy; returns its value, or fails with the last value."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {timeout} s (last: {value!r})")
        await asyncio.sleep(every)
