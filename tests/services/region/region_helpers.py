"""A real region on loopback: nats-server processes for the hub and the islands, with the
configurations, credentials and streams the services/region package renders.

Each test region gets its own 127.<ISLAND_TEST_NET_BASE>.<n>.x addresses, so parallel sessions
never meet.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

from services.region import config, credentials
from services.region.plan import HubNode, IslandNode, Region
from services.region.replicator import Place, Replicator
from services.region.server import NatsServer

NET_BASE = int(os.environ.get("ISLAND_TEST_NET_BASE", "43"))
_subnets = itertools.count(200 + os.getpid() % 40)


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def plan(islands: list[str], hub_nodes: int = 1, retention: float = 3600.0) -> Region:
    subnet = next(_subnets)
    hub = []
    for n in range(hub_nodes):
        host = f"127.{NET_BASE}.{subnet}.{1 + n}"
        hub.append(HubNode(f"n{n + 1}", host, *(free_port(host) for _ in range(4))))
    nodes = []
    for i, name in enumerate(islands):
        host = f"127.{NET_BASE}.{subnet}.{10 + i}"
        nodes.append(IslandNode(name, f"Ö {name.upper()}", host, free_port(host), free_port(host)))
    return Region("test", tuple(hub), tuple(nodes), retention)


@dataclass
class RunningRegion:
    region: Region
    folder: Path
    creds: credentials.Credentials
    hub: dict[str, NatsServer] = field(default_factory=dict)
    islands: dict[str, NatsServer] = field(default_factory=dict)

    def hub_place(self, **kwargs) -> Place:
        return Place(
            "hub",
            self.region,
            str(self.folder / "hub" / "registry.sqlite"),
            user=config.HUB_CLIENT_USER,
            password=self.creds.hub_password(),
            **kwargs,
        )

    def island_place(self, name: str, **kwargs) -> Place:
        return Place(name, self.region, str(self.folder / name / "registry.sqlite"), **kwargs)

    def stop(self) -> None:
        for server in [*self.islands.values(), *self.hub.values()]:
            server.stop()


def start_region(region: Region, folder: Path) -> RunningRegion:
    creds = credentials.ensure(region, folder / "credentials")
    running = RunningRegion(region, folder, creds)
    try:
        for node in region.hub:
            conf = config.write(
                config.hub_config(region, node, creds, folder / "hub" / node.name / "js"),
                folder / "hub" / node.name / "nats.conf",
            )
            running.hub[node.name] = NatsServer(
                conf, folder / "hub" / node.name / "nats.log", f"{node.host}:{node.monitor_port}"
            )
        _start_all(list(running.hub.values()))
        for island in region.islands:
            conf = config.write(
                config.island_config(region, island, creds, folder / island.name / "js"),
                folder / island.name / "nats.conf",
            )
            server = NatsServer(
                conf, folder / island.name / "nats.log", f"{island.host}:{island.monitor_port}"
            )
            running.islands[island.name] = server.start()
    except BaseException:
        running.stop()
        raise
    return running


def _start_all(servers: list[NatsServer]) -> None:
    """Start together: a cluster's nodes are healthy only once they see each other."""
    if len(servers) == 1:
        servers[0].start()
        return
    import threading

    errors: list[BaseException] = []

    def start(server: NatsServer) -> None:
        try:
            server.start(timeout=30)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(s,)) for s in servers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


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
