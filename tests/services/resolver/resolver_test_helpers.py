"""Helpers for the resolver tests: free loopback ports, served handlers and fake upstreams."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable

from services.dns import DNSServer

HOST = "127.0.0.1"


def free_port() -> int:
    """A loopback port free for both UDP and TCP right now (nothing listens on it)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind((HOST, 0))
            port = tcp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind((HOST, port))
                except OSError:
                    continue
        return port
    raise RuntimeError("no free port for both UDP and TCP")


@contextlib.asynccontextmanager
async def serving(handler) -> AsyncIterator[int]:
    """Run a DNSServer for ``handler`` on a free loopback port; yields the port."""
    for _ in range(5):
        port = free_port()
        server = DNSServer(handler, HOST, port)
        try:
            await server.start()
        except OSError:
            continue
        break
    else:
        raise RuntimeError("could not start the DNS server")
    try:
        yield port
    finally:
        await server.stop()


class FakeUpstream(asyncio.DatagramProtocol):
    """A UDP socket that records what it gets and answers with ``reply(data)`` (None: stay silent)."""

    def __init__(self, reply: Callable[[bytes], bytes | None]) -> None:
        self.reply = reply
        self.received: list[bytes] = []

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        self.received.append(data)
        answer = self.reply(data)
        if answer is not None:
            self.transport.sendto(answer, addr)


@contextlib.asynccontextmanager
async def fake_upstream(reply: Callable[[bytes], bytes | None]) -> AsyncIterator[tuple[int, FakeUpstream]]:
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(lambda: FakeUpstream(reply), local_addr=(HOST, 0))
    try:
        yield transport.get_extra_info("sockname")[1], protocol
    finally:
        transport.close()
