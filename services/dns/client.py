"""The client side of DNS: one exchange with a server over UDP or TCP.

Used by the resolver to forward and by the scenario probes to ask, so that both
see timeouts and refusals the same way.
"""

from __future__ import annotations

import asyncio
import secrets
import struct
from typing import Any

from dnslib import QTYPE, DNSRecord

from .wire import MalformedPacket, parse_response


class DNSExchangeError(Exception):
    """The server did not give a usable answer."""


class DNSTimeout(DNSExchangeError):
    pass


class DNSRefused(DNSExchangeError):
    """The server's port refused us (ICMP port unreachable or TCP RST): a fast failure."""


class _OneAnswer(asyncio.DatagramProtocol):
    def __init__(self, expected_id: int) -> None:
        self.expected_id = expected_id
        self.answer: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: Any) -> None:
        # Ignore stray datagrams whose ID does not match (spoofing, late answers).
        if len(data) >= 2 and struct.unpack("!H", data[:2])[0] == self.expected_id and not self.answer.done():
            self.answer.set_result(data)

    def error_received(self, exc: Exception) -> None:
        if not self.answer.done():
            self.answer.set_exception(DNSRefused(str(exc)))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.answer.done():
            self.answer.set_exception(DNSExchangeError(f"socket closed: {exc}"))
            # Marked as seen: a query cancelled while its socket was being made (a health check's
            # timeout) closes it before anyone awaits the answer, which asyncio would log as lost.
            self.answer.exception()


async def _exchange_udp(packet: bytes, host: str, port: int, source_host: str | None) -> bytes:
    loop = asyncio.get_running_loop()
    query_id = struct.unpack("!H", packet[:2])[0]
    local_addr = (source_host, 0) if source_host else None
    try:
        transport, protocol = await loop.create_datagram_endpoint(
            lambda: _OneAnswer(query_id), remote_addr=(host, port), local_addr=local_addr
        )
    except OSError as exc:
        raise DNSRefused(f"cannot reach {host}:{port}: {exc}") from exc
    try:
        transport.sendto(packet)
        return await protocol.answer
    finally:
        transport.close()


async def _exchange_tcp(packet: bytes, host: str, port: int, source_host: str | None) -> bytes:
    local_addr = (source_host, 0) if source_host else None
    try:
        reader, writer = await asyncio.open_connection(host, port, local_addr=local_addr)
    except ConnectionRefusedError as exc:
        raise DNSRefused(f"{host}:{port} refused the TCP connection") from exc
    except OSError as exc:
        raise DNSExchangeError(f"cannot connect to {host}:{port}: {exc}") from exc
    try:
        writer.write(struct.pack("!H", len(packet)) + packet)
        await writer.drain()
        (length,) = struct.unpack("!H", await reader.readexactly(2))
        return await reader.readexactly(length)
    except (asyncio.IncompleteReadError, ConnectionResetError) as exc:
        raise DNSRefused(f"{host}:{port} closed the TCP connection") from exc
    finally:
        writer.close()


async def exchange(
    packet: bytes,
    host: str,
    port: int,
    *,
    timeout: float,
    tcp: bool = False,
    source_host: str | None = None,
) -> bytes:
    """Send one DNS message and return the raw answer. Raises DNSTimeout or DNSRefused."""
    send = _exchange_tcp if tcp else _exchange_udp
    try:
        return await asyncio.wait_for(send(packet, host, port, source_host), timeout)
    except TimeoutError as exc:
        raise DNSTimeout(f"no answer from {host}:{port} within {timeout:.1f} s") from exc


def check_answer(question: DNSRecord, answer: DNSRecord) -> None:
    """An answer must match the question's ID and question section, or it is not ours."""
    if answer.header.id != question.header.id:
        raise DNSExchangeError("answer ID does not match the query")
    if not answer.header.qr:
        raise DNSExchangeError("answer is not a response")
    if answer.questions and answer.q != question.q:
        raise DNSExchangeError(f"answer is for {answer.q.qname}, not {question.q.qname}")


async def query(
    name: str,
    qtype: str | int,
    host: str,
    port: int,
    *,
    timeout: float,
    tcp: bool = False,
    source_host: str | None = None,
) -> DNSRecord:
    """Ask one question; falls back to TCP when the UDP answer is truncated."""
    question = DNSRecord.question(name, QTYPE[qtype] if isinstance(qtype, int) else qtype)
    question.header.id = secrets.randbits(16)
    packet = question.pack()
    data = await exchange(packet, host, port, timeout=timeout, tcp=tcp, source_host=source_host)
    try:
        answer = parse_response(data)
    except MalformedPacket as exc:
        raise DNSExchangeError(str(exc)) from exc
    check_answer(question, answer)
    if answer.header.tc and not tcp:
        return await query(name, qtype, host, port, timeout=timeout, tcp=True, source_host=source_host)
    return answer
