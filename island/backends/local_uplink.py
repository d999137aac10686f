"""The local backend's uplink: a relay between the island and the simulated internet.

Without root there is no router to pull the plug on, so every packet the island
sends to the internet goes through this relay, which can

- pass traffic (``up``),
- swallow it silently (``blackhole``: the island's queries time out), or
- refuse it (``reject``: its sockets are closed, so the kernel answers UDP with
  ICMP port-unreachable and TCP with a reset, a fast failure).

It is run as ``python -m island.backends.local_uplink --config FILE`` and steered
over a Unix socket with one JSON object per line: ``{"mode": "blackhole"}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

log = logging.getLogger("uplink")

Mode = Literal["up", "blackhole", "reject"]
MODES: tuple[str, ...] = ("up", "blackhole", "reject")
_UDP_FLOW_IDLE = 30.0


class RelayConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    listen_host: str
    target_host: str
    udp_ports: list[int]
    tcp_ports: list[int]
    control_socket: str


class _UDPFlow(asyncio.DatagramProtocol):
    """The relay's socket towards the internet for one client address."""

    def __init__(self, relay: UplinkRelay, front: asyncio.DatagramTransport, client) -> None:
        self.relay, self.front, self.client = relay, front, client
        self.transport: asyncio.DatagramTransport | None = None
        self.last_used = asyncio.get_running_loop().time()

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        if self.relay.mode == "up" and not self.front.is_closing():
            self.front.sendto(data, self.client)


class _UDPFront(asyncio.DatagramProtocol):
    def __init__(self, relay: UplinkRelay, port: int) -> None:
        self.relay, self.port = relay, port
        self.transport: asyncio.DatagramTransport | None = None
        self.flows: dict[tuple, _UDPFlow] = {}

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        if self.relay.mode != "up":
            return  # black hole: not a word back
        asyncio.ensure_future(self._forward(data, addr))

    async def _forward(self, data: bytes, client) -> None:
        loop = asyncio.get_running_loop()
        flow = self.flows.get(client)
        if flow is None or flow.transport is None or flow.transport.is_closing():
            _, flow = await loop.create_datagram_endpoint(
                lambda: _UDPFlow(self.relay, self.transport, client),
                remote_addr=(self.relay.config.target_host, self.port),
            )
            self.flows[client] = flow
        flow.last_used = loop.time()
        flow.transport.sendto(data)

    def expire(self, now: float) -> None:
        for client, flow in list(self.flows.items()):
            if now - flow.last_used > _UDP_FLOW_IDLE:
                flow.transport.close()
                del self.flows[client]

    def close(self) -> None:
        for flow in self.flows.values():
            flow.transport.close()
        self.flows.clear()
        if self.transport is not None:
            self.transport.close()


class UplinkRelay:
    def __init__(self, config: RelayConfig) -> None:
        self.config = config
        self.mode: Mode = "up"
        self._udp: list[_UDPFront] = []
        self._tcp: list[asyncio.base_events.Server] = []
        self._connections: set[asyncio.StreamWriter] = set()

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        host = self.config.listen_host
        for port in self.config.udp_ports:
            _, front = await loop.create_datagram_endpoint(lambda p=port: _UDPFront(self, p), local_addr=(host, port))
            self._udp.append(front)
        for port in self.config.tcp_ports:
            server = await asyncio.start_server(
                lambda r, w, p=port: self._relay_tcp(r, w, p), host, port, reuse_address=True
            )
            self._tcp.append(server)

    def close(self) -> None:
        for front in self._udp:
            front.close()
        for server in self._tcp:
            server.close()
        for writer in list(self._connections):
            writer.transport.abort()
        self._udp, self._tcp = [], []
        self._connections.clear()

    async def set_mode(self, mode: Mode) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown uplink mode {mode!r}; use one of {', '.join(MODES)}")
        previous, self.mode = self.mode, mode
        if mode == "reject":
            self.close()
        elif previous == "reject":
            await self.open()
        log.info("uplink %s", mode)

    async def _relay_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int) -> None:
        self._connections.add(writer)
        try:
            if self.mode != "up":
                await self._swallow(reader)
                return
            try:
                up_reader, up_writer = await asyncio.open_connection(self.config.target_host, port)
            except OSError:
                writer.transport.abort()
                return
            self._connections.add(up_writer)
            try:
                await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
            finally:
                self._connections.discard(up_writer)
                up_writer.close()
        finally:
            self._connections.discard(writer)
            writer.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                if self.mode == "up":
                    writer.write(data)
                    await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()
        except (ConnectionError, OSError):
            writer.transport.abort()

    @staticmethod
    async def _swallow(reader: asyncio.StreamReader) -> None:
        try:
            while await reader.read(65536):
                pass
        except (ConnectionError, OSError):
            pass

    async def expire_flows(self) -> None:
        while True:
            await asyncio.sleep(_UDP_FLOW_IDLE / 2)
            now = asyncio.get_running_loop().time()
            for front in self._udp:
                front.expire(now)

    async def serve_control(self, path: str) -> asyncio.base_events.Server:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while line := await reader.readline():
                    try:
                        request = json.loads(line)
                        if "mode" in request:
                            await self.set_mode(request["mode"])
                        reply = {"ok": True, "mode": self.mode}
                    except (ValueError, TypeError, OSError) as exc:
                        reply = {"ok": False, "error": str(exc), "mode": self.mode}
                    writer.write(json.dumps(reply).encode() + b"\n")
                    await writer.drain()
            finally:
                writer.close()

        if os.path.exists(path):
            os.unlink(path)
        return await asyncio.start_unix_server(handle, path)


async def control(path: str | Path, request: dict, timeout: float = 5.0) -> dict:
    """Send one request to a running relay and return its reply."""
    reader, writer = await asyncio.wait_for(asyncio.open_unix_connection(str(path)), timeout)
    try:
        writer.write(json.dumps(request).encode() + b"\n")
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), timeout)
        return json.loads(line)
    finally:
        writer.close()


async def _main(config: RelayConfig) -> None:
    relay = UplinkRelay(config)
    await relay.open()
    control_server = await relay.serve_control(config.control_socket)
    expiry = asyncio.ensure_future(relay.expire_flows())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        expiry.cancel()
        control_server.close()
        relay.close()
        if os.path.exists(config.control_socket):
            os.unlink(config.control_socket)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m island.backends.local_uplink", description=__doc__)
    parser.add_argument("--config", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s uplink %(levelname)s %(message)s")
    config = RelayConfig.model_validate_json(Path(args.config).read_text(encoding="utf-8"))
    try:
        asyncio.run(_main(config))
    except OSError as exc:
        print(f"uplink relay: cannot listen on {config.listen_host}: {exc}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
