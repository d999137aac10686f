"""A region as local processes on loopback addresses: for the tests, the bench and the simulator.

`plan_local` places the hub's nodes and the islands on 127.<net>.<subnet>.x addresses with free
ports; `start` renders the configurations and credentials and starts one nats-server per hub
node and per island; `LinkRelay` stands between an island and the hub (the island's stadsnät
link) so that one island's link can be cut and restored while everything else runs.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

from services.region import config, credentials
from services.region.plan import HubNode, IslandNode, Region
from services.region.replicator import Place
from services.region.server import NatsServer
from services.region.subjects import HUB


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def plan_local(islands: list[str], net: str, hub_nodes: int = 1, retention: float = 3600.0) -> Region:
    """`net`: the first two... three octets, e.g. "127.58.200": hub nodes at .1-.3, islands from .10."""
    hub = []
    for n in range(hub_nodes):
        host = f"{net}.{1 + n}"
        hub.append(HubNode(f"n{n + 1}", host, *(free_port(host) for _ in range(4))))
    nodes = []
    for i, name in enumerate(islands):
        host = f"{net}.{10 + i}"
        nodes.append(IslandNode(name, f"Ö {name.upper()}", host, free_port(host), free_port(host)))
    return Region("local", tuple(hub), tuple(nodes), retention)


@dataclass
class LocalRegion:
    region: Region
    folder: Path
    creds: credentials.Credentials
    hub: dict[str, NatsServer] = field(default_factory=dict)
    islands: dict[str, NatsServer] = field(default_factory=dict)
    links: dict[str, LinkRelay] = field(default_factory=dict)

    def hub_place(self, **kwargs: str) -> Place:
        """The hub's replicator's place, its registry in the region's folder."""
        return Place(
            HUB,
            self.region,
            str(self.folder / "hub" / "registry.sqlite"),
            user=config.HUB_CLIENT_USER,
            password=self.creds.hub_password(),
            **kwargs,
        )

    def island_place(self, name: str, **kwargs: str) -> Place:
        return Place(
            name,
            self.region,
            str(self.folder / name / "registry.sqlite"),
            user=config.ISLAND_CLIENT_USER,
            password=self.creds.island_password(name),
            **kwargs,
        )

    def island_client(self, name: str) -> dict[str, str]:
        """nats.connect() arguments for one of the island's own clients."""
        island = self.region.island(name)
        return {
            "servers": f"nats://{island.host}:{island.client_port}",
            "user": config.ISLAND_CLIENT_USER,
            "password": self.creds.island_password(name),
        }

    def stop(self) -> None:
        for server in [*self.islands.values(), *self.hub.values()]:
            server.stop()
        for link in self.links.values():
            link.stop()


def start(region: Region, folder: Path, relayed: bool = False) -> LocalRegion:
    """Start the region's servers; `relayed`: each island reaches the hub through its own LinkRelay."""
    creds = credentials.ensure(region, folder / "credentials")
    running = LocalRegion(region, folder, creds)
    try:
        hub_servers = []
        for node in region.hub:
            base = folder / "hub" / node.name
            conf = config.write(config.hub_config(region, node, creds, base / "js"), base / "nats.conf")
            server = NatsServer(conf, base / "nats.log", f"{node.host}:{node.monitor_port}")
            running.hub[node.name] = server
            hub_servers.append(server)
        _start_together(hub_servers)
        for island in region.islands:
            base = folder / island.name
            rendered = config.island_config(region, island, creds, base / "js")
            if relayed:
                node = region.hub[0]
                link = LinkRelay(node.host, node.leaf_port).start()
                running.links[island.name] = link
                rendered["leafnodes"]["remotes"][0]["urls"] = [f"tls://{node.host}:{link.port}"]
            conf = config.write(rendered, base / "nats.conf")
            server = NatsServer(conf, base / "nats.log", f"{island.host}:{island.monitor_port}")
            running.islands[island.name] = server.start()
    except BaseException:
        running.stop()
        raise
    return running


def _start_together(servers: list[NatsServer]) -> None:
    """A cluster's nodes are healthy only once they see each other: start them at once."""
    errors: list[BaseException] = []

    def start_one(server: NatsServer) -> None:
        try:
            server.start(timeout=30)
        except BaseException as exc:  # noqa: BLE001 - raised below, in the caller's thread
            errors.append(exc)

    threads = [threading.Thread(target=start_one, args=(s,)) for s in servers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


class LinkRelay:
    """A TCP relay for one island's link to the hub, on the hub's address (so the hub's TLS
    certificate still matches), in a thread of its own. `cut()` drops every connection and refuses
    new ones, as a link that is down; `restore()` lets them through again."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.host, self.target = target_host, (target_host, target_port)
        self.port = free_port(target_host)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self.up = True

    def start(self) -> LinkRelay:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(5)
        return self

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._relay, self.host, self.port)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.up:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._open |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with suppress(OSError, asyncio.CancelledError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._open -= {writer, up_writer}

    def cut(self) -> None:
        def drop() -> None:
            self.up = False
            for w in list(self._open):
                w.transport.abort()
            self._open.clear()

        self._loop.call_soon_threadsafe(drop)

    def restore(self) -> None:
        self._loop.call_soon_threadsafe(lambda: setattr(self, "up", True))

    def stop(self) -> None:
        if self._server is not None:
            self._loop.call_soon_threadsafe(self._server.close)
        self.cut()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
