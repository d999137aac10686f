"""Shared by the backends' unit tests: addresses of their own on loopback, and a tiny upstream to relay to."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass

from tiers import loopback_network_reason, require_tier

# Offset 8 of this checkout's test networks (ISLAND_TEST_NET_BASE, see island_test_helpers.py); the
# backends' unit tests use its .21 to .23 hosts, which no test island uses.
NET = f"127.{int(os.environ.get('ISLAND_TEST_NET_BASE', '43')) + 8}"


def host(n: int) -> str:
    require_tier("e2e", loopback_network_reason(NET))
    return f"{NET}.21.{n}"


class _Echo(asyncio.DatagramProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.DatagramTransport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.transport.sendto(b"echo " + data, addr)


async def _echo_stream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(b"echo " + data)
        await writer.drain()
    writer.close()


@dataclass
class Upstream:
    """UDP and TCP echo servers on one address and some ports: the simulated internet, as small as it gets."""

    address: str
    ports: list[int]
    _closers: list

    @classmethod
    async def start(cls, address: str, ports: list[int]) -> Upstream:
        loop = asyncio.get_running_loop()
        closers = []
        for port in ports:
            transport, _ = await loop.create_datagram_endpoint(_Echo, local_addr=(address, port))
            server = await asyncio.start_server(_echo_stream, address, port)
            closers += [transport.close, server.close]
        return cls(address, ports, closers)

    def close(self) -> None:
        for close in self._closers:
            close()


class _Client(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.answers: asyncio.Queue[bytes | Exception] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.answers.put_nowait(data)

    def error_received(self, exc: Exception) -> None:
        self.answers.put_nowait(exc)


async def udp_exchange(address: str, port: int, data: bytes, wait: float = 1.0) -> bytes | Exception | None:
    """Send one datagram; the answer, the error the kernel reported (ICMP), or None for silence."""
    loop = asyncio.get_running_loop()
    transport, client = await loop.create_datagram_endpoint(_Client, remote_addr=(address, port))
    try:
        transport.sendto(data)
        try:
            return await asyncio.wait_for(client.answers.get(), wait)
        except TimeoutError:
            return None
    finally:
        transport.close()


async def tcp_exchange(address: str, port: int, data: bytes, wait: float = 1.0) -> bytes | Exception | None:
    """Connect, send, read what comes back; the error when the connection is refused or reset, None for silence."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(address, port), wait)
    except OSError as exc:
        return exc
    try:
        writer.write(data)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(65536), wait)
        return answer
    except TimeoutError:
        return None
    except OSError as exc:
        return exc
    finally:
        writer.close()
