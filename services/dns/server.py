"""An asyncio DNS server over UDP and TCP that hands each parsed query to a handler.

dnslib's own server is one thread per request and ignores EDNS; this one is a
single event loop, honours the client's UDP size, truncates, keeps a TCP
connection open for several queries, and never lets a bad packet or a handler
error go unanswered. On Linux it reads and answers UDP in batches (udp_batch);
elsewhere, or with ``batched=False``, one datagram per callback.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Protocol, cast

from dnslib import RCODE, DNSRecord

from . import udp_batch
from .wire import (
    MalformedPacket,
    client_udp_size,
    error_reply_bytes,
    pack_for_udp,
    parse_query,
    refusal_bytes,
    servfail,
)

log = logging.getLogger(__name__)

# handler(query, client_address, transport_name) -> response, or None to drop the query
Handler = Callable[[DNSRecord, tuple[str, int], str], Awaitable[DNSRecord | None]]
# count_problem(kind): "malformed" (refused before parsing: FORMERR, NOTIMP, BADVERS),
# "handler" (the handler raised: SERVFAIL), "pack" (the answer could not be packed: SERVFAIL),
# "tcp_refused" (a TCP connection over a cap, closed at once)
ProblemCounter = Callable[[str], None]


class FastPath(Protocol):
    """Answers a query from its raw bytes before any parsing (precomputed answers).

    ``answer`` returns the bytes to send, ``b""`` to drop the query, or None to take the
    full path; the server puts the query's ID on the bytes it sends, so a stored answer
    can be returned as it is. A UDP query ``answer`` left is offered to ``forward`` first,
    which may take it on without a parse or a task (True) and hand its reply, ID included,
    to ``send`` later. ``learn`` is told every full-path answer so it can serve
    the next one; ``sent_unparsed`` every answer to a packet that was never parsed;
    ``answered_batch`` how many fast answers went out together and how long they took.
    """

    def answer(self, data: bytes, host: str, transport: str) -> bytes | None: ...

    def forward(self, data: bytes, host: str, send: Callable[[bytes], None]) -> bool: ...

    def learn(
        self, data: bytes, query: DNSRecord, response: DNSRecord, reply: bytes, transport: str
    ) -> None: ...

    def sent_unparsed(self, reply: bytes | None) -> None: ...

    def answered_batch(self, count: int, seconds: float) -> None: ...


TCP_IDLE_SECONDS = 10.0
MAX_TCP_CONNECTIONS = 256
# One address may hold at most this many: a quarter, so one host cannot take every slot
# (Unbound: tcp-connection-limit), while a trygghetspunkt behind one NAT address still has room.
MAX_TCP_CONNECTIONS_PER_CLIENT = 64
# Connections the kernel may queue before we accept them (asyncio's default is 100): one address
# opening hundreds at once (the hostile bench's held connections) filled 100, and a resident's SYN
# was then dropped and resent a second later. Those over the caps are accepted and closed at once,
# so a deep queue drains in milliseconds; the kernel caps it at net.core.somaxconn.
TCP_BACKLOG = 1024
# 4 MB (Unbound's so-rcvbuf advice): under a flood, room for the seconds a busy machine may not run us.
UDP_RECEIVE_BUFFER = 4 << 20


def _enlarge_receive_buffer(sock: socket.socket) -> None:
    try:
        # Room for a burst while the loop is busy (Unbound: so-rcvbuf); capped by net.core.rmem_max.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_RECEIVE_BUFFER)
    except OSError:
        pass


class _UDPProtocol(asyncio.DatagramProtocol):
    def __init__(self, server: DNSServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # create_datagram_endpoint hands a datagram protocol a datagram transport
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: udp_batch.Address) -> None:
        fast = self.server.fast_path
        if fast is not None:
            # No task, no parse: the common case (local names, cache hits) ends here.
            started = time.monotonic()
            try:
                reply = fast.answer(data, addr[0], "udp")
            except Exception:
                log.exception("fast path failed for a packet from %s", addr)
                reply = None
            if reply is not None:
                if reply and self.transport is not None and len(data) >= 2:
                    self.transport.sendto(data[:2] + reply[2:], addr)
                    fast.answered_batch(1, time.monotonic() - started)
                return
        self.server.answer_later(data, addr, self._send)

    def _send(self, reply: bytes, addr: udp_batch.Address) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(reply, addr)

    def error_received(self, exc: Exception) -> None:
        # An ICMP error for an earlier answer: nothing to do, keep serving.
        log.debug("udp error: %s", exc)


class DNSServer:
    def __init__(
        self,
        handler: Handler,
        host: str,
        port: int,
        *,
        fast_path: FastPath | None = None,
        max_tcp_connections: int = MAX_TCP_CONNECTIONS,
        max_tcp_per_client: int = MAX_TCP_CONNECTIONS_PER_CLIENT,
        tcp_idle_seconds: float = TCP_IDLE_SECONDS,
        batched: bool = True,
        count_problem: ProblemCounter | None = None,
    ) -> None:
        self.handler = handler
        self.host = host
        self.port = port
        self.fast_path = fast_path
        self.max_tcp_connections = max_tcp_connections
        self.max_tcp_per_client = max_tcp_per_client
        self.tcp_idle_seconds = tcp_idle_seconds
        self.batched = batched
        self._udp: asyncio.DatagramTransport | None = None
        self._batched: udp_batch.BatchedUDP | None = None
        self._tcp: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._tcp_connections = 0
        self._tcp_per_client: Counter[str] = Counter()
        # Every bad packet is counted; only the first of each kind is logged with its traceback,
        # so a flood of them costs no disk and no loop time.
        self.problems: Counter[str] = Counter()
        self._count_problem = count_problem

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        if self.batched and udp_batch.available():
            self._batched = self._start_batched(loop)
        else:
            self._udp, _ = await loop.create_datagram_endpoint(
                lambda: _UDPProtocol(self), local_addr=(self.host, self.port)
            )
            _enlarge_receive_buffer(self._udp.get_extra_info("socket"))
        try:
            self._tcp = await asyncio.start_server(
                self._serve_tcp, self.host, self.port, reuse_address=True, backlog=TCP_BACKLOG
            )
        except OSError:
            self._close_udp()
            raise

    def _start_batched(self, loop: asyncio.AbstractEventLoop) -> udp_batch.BatchedUDP:
        family, _, _, _, address = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_DGRAM)[0]
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            sock.bind(address)
            _enlarge_receive_buffer(sock)
            fast = self.fast_path
            batched = udp_batch.BatchedUDP(
                sock,
                fast.answer if fast is not None else None,
                self._answer_batched_miss,
                fast.answered_batch if fast is not None else None,
            )
            loop.add_reader(sock.fileno(), batched.drain)
        except BaseException:
            sock.close()
            raise
        return batched

    def _answer_batched_miss(self, data: bytes, client: udp_batch.Address) -> None:
        assert self._batched is not None  # called only by the BatchedUDP it holds
        sock = self._batched.sock

        def send(reply: bytes, client: udp_batch.Address) -> None:
            if sock.fileno() < 0:
                return  # stopped meanwhile
            try:
                sock.sendto(reply, client)
            except OSError as exc:  # a full send buffer: the client asks again
                log.debug("udp send to %s: %s", client, exc)

        self.answer_later(data, client, send)

    def answer_later(
        self, data: bytes, client: udp_batch.Address, send: Callable[[bytes, udp_batch.Address], None]
    ) -> None:
        """Answer a UDP query the fast path left, after the answers ready now (the rest of the batch):
        forwarded from its bytes if the fast path takes it on, else on the full path in a task of its own.
        ``send`` gets the reply."""
        asyncio.get_running_loop().call_soon(self._answer_now, data, client, send)

    def _answer_now(
        self, data: bytes, client: udp_batch.Address, send: Callable[[bytes, udp_batch.Address], None]
    ) -> None:
        fast = self.fast_path
        try:
            if fast is not None and fast.forward(data, client[0], lambda reply: send(reply, client)):
                return
        except Exception:
            log.exception("fast path could not forward a packet from %s", client)

        async def answer() -> None:
            reply = await self.answer(data, client, "udp")
            if reply is not None:
                send(reply, client)

        task = asyncio.ensure_future(answer())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _close_udp(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._batched is not None:
            sock = self._batched.sock
            try:
                asyncio.get_running_loop().remove_reader(sock.fileno())
            finally:
                sock.close()
            self._batched = None

    async def stop(self) -> None:
        self._close_udp()
        if self._tcp is not None:
            self._tcp.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def answer(self, data: bytes, client: tuple[str, int], transport: str) -> bytes | None:
        """Bytes to send back for ``data``, or None to stay silent (garbage too short to answer)."""
        if self.fast_path is not None and transport != "udp":  # UDP asked it already
            try:
                fast = self.fast_path.answer(data, client[0], transport)
            except Exception:
                log.exception("fast path failed for a packet from %s", client)
                fast = None
            if fast is not None:
                return data[:2] + fast[2:] if fast and len(data) >= 2 else None
        try:
            query = parse_query(data)
        except MalformedPacket as exc:
            self._problem("malformed")
            log.debug("malformed packet from %s: %s", client, exc)
            return self._unparsed(refusal_bytes(data, exc))
        try:
            response = await self.handler(query, client, transport)
        except Exception:
            if self._problem("handler"):
                log.exception(
                    "internal error answering %s from %s (further ones are only counted)",
                    query.q.qname,
                    client,
                )
            response = servfail(query)
        if response is None:
            return None
        try:
            if transport == "udp":
                reply = pack_for_udp(response, client_udp_size(query))
            else:
                reply = response.pack()
        except Exception:
            if self._problem("pack"):
                log.exception("cannot pack the answer for %s (further ones are only counted)", query.q.qname)
            return self._unparsed(error_reply_bytes(data, RCODE.SERVFAIL))
        if self.fast_path is not None:
            try:
                self.fast_path.learn(data, query, response, reply, transport)
            except Exception:
                log.exception("fast path could not learn the answer for %s", query.q.qname)
        return reply

    def _problem(self, kind: str) -> bool:
        """Count a problem; True the first time of its kind (log it then, with the traceback)."""
        self.problems[kind] += 1
        if self._count_problem is not None:
            self._count_problem(kind)
        return self.problems[kind] == 1

    def _unparsed(self, reply: bytes | None) -> bytes | None:
        if self.fast_path is not None:
            self.fast_path.sent_unparsed(reply)
        return reply

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        client = writer.get_extra_info("peername")[:2]
        host = client[0]
        if (
            self._tcp_connections >= self.max_tcp_connections
            or self._tcp_per_client[host] >= self.max_tcp_per_client
        ):
            self._problem("tcp_refused")
            writer.close()
            return
        self._tcp_connections += 1
        self._tcp_per_client[host] += 1
        try:
            while True:
                # asyncio.timeout, not wait_for: the read's end (the client closing) raised through
                # wait_for's future left a cycle per connection for the garbage collector to free.
                async with asyncio.timeout(self.tcp_idle_seconds):
                    header = await reader.readexactly(2)
                (length,) = struct.unpack("!H", header)
                async with asyncio.timeout(self.tcp_idle_seconds):
                    data = await reader.readexactly(length)
                reply = await self.answer(data, client, "tcp")
                if reply is None:
                    break
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._tcp_connections -= 1
            self._tcp_per_client[host] -= 1
            if not self._tcp_per_client[host]:
                del self._tcp_per_client[host]
            writer.close()
