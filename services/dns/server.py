"""An asyncio DNS server over UDP and TCP that hands each parsed query to a handler.

dnslib's own server is one thread per request and ignores EDNS; this one is a
single event loop, honours the client's UDP size, truncates, keeps a TCP
connection open for several queries, and never lets a bad packet or a handler
error go unanswered.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
from collections.abc import Awaitable, Callable
from typing import Protocol

from dnslib import RCODE, DNSRecord

from .wire import MalformedPacket, client_udp_size, error_reply_bytes, pack_for_udp, parse_query, servfail

log = logging.getLogger(__name__)

# handler(query, client_address, transport_name) -> response, or None to drop the query
Handler = Callable[[DNSRecord, tuple[str, int], str], Awaitable[DNSRecord | None]]


class FastPath(Protocol):
    """Answers a query from its raw bytes before any parsing (precomputed answers).

    ``answer`` returns the bytes to send, ``b""`` to drop the query, or None to take the
    full path; ``learn`` is told every full-path answer so it can serve the next one.
    """

    def answer(self, data: bytes, client: tuple[str, int], transport: str) -> bytes | None: ...

    def learn(self, data: bytes, query: DNSRecord, response: DNSRecord, reply: bytes, transport: str) -> None: ...

TCP_IDLE_SECONDS = 10.0
MAX_TCP_CONNECTIONS = 256
UDP_RECEIVE_BUFFER = 1 << 20


class _UDPProtocol(asyncio.DatagramProtocol):
    def __init__(self, server: DNSServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        fast = self.server.fast_path
        if fast is not None:
            # No task, no parse: the common case (local names, cache hits) ends here.
            try:
                reply = fast.answer(data, addr, "udp")
            except Exception:
                log.exception("fast path failed for a packet from %s", addr)
                reply = None
            if reply is not None:
                if reply and self.transport is not None:
                    self.transport.sendto(reply, addr)
                return
        task = asyncio.ensure_future(self._answer(data, addr))
        self.server._tasks.add(task)
        task.add_done_callback(self.server._tasks.discard)

    async def _answer(self, data: bytes, addr) -> None:
        reply = await self.server.answer(data, addr, "udp")
        if reply is not None and self.transport is not None and not self.transport.is_closing():
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
        tcp_idle_seconds: float = TCP_IDLE_SECONDS,
    ) -> None:
        self.handler = handler
        self.host = host
        self.port = port
        self.fast_path = fast_path
        self.max_tcp_connections = max_tcp_connections
        self.tcp_idle_seconds = tcp_idle_seconds
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task] = set()
        self._tcp_connections = 0

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._udp, _ = await loop.create_datagram_endpoint(
            lambda: _UDPProtocol(self), local_addr=(self.host, self.port)
        )
        try:
            # Room for a burst while the loop is busy (Unbound: so-rcvbuf); capped by net.core.rmem_max.
            self._udp.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_RECEIVE_BUFFER)
        except OSError:
            pass
        try:
            self._tcp = await asyncio.start_server(self._serve_tcp, self.host, self.port, reuse_address=True)
        except OSError:
            self._udp.close()
            raise

    async def stop(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def answer(self, data: bytes, client: tuple[str, int], transport: str) -> bytes | None:
        """Bytes to send back for ``data``, or None to stay silent (garbage too short to answer)."""
        if self.fast_path is not None and transport != "udp":  # UDP asked it already
            try:
                fast = self.fast_path.answer(data, client, transport)
            except Exception:
                log.exception("fast path failed for a packet from %s", client)
                fast = None
            if fast is not None:
                return fast or None
        try:
            query = parse_query(data)
        except MalformedPacket as exc:
            log.debug("malformed packet from %s: %s", client, exc)
            return error_reply_bytes(data, exc.rcode)
        try:
            response = await self.handler(query, client, transport)
        except Exception:
            log.exception("internal error answering %s from %s", query.q.qname, client)
            response = servfail(query)
        if response is None:
            return None
        try:
            if transport == "udp":
                reply = pack_for_udp(response, client_udp_size(query))
            else:
                reply = response.pack()
        except Exception:
            log.exception("cannot pack the answer for %s", query.q.qname)
            return error_reply_bytes(data, RCODE.SERVFAIL)
        if self.fast_path is not None:
            try:
                self.fast_path.learn(data, query, response, reply, transport)
            except Exception:
                log.exception("fast path could not learn the answer for %s", query.q.qname)
        return reply

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._tcp_connections >= self.max_tcp_connections:
            writer.close()
            return
        self._tcp_connections += 1
        client = writer.get_extra_info("peername")[:2]
        try:
            while True:
                header = await asyncio.wait_for(reader.readexactly(2), self.tcp_idle_seconds)
                (length,) = struct.unpack("!H", header)
                data = await asyncio.wait_for(reader.readexactly(length), self.tcp_idle_seconds)
                reply = await self.answer(data, client, "tcp")
                if reply is None:
                    break
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError):
            pass
        finally:
            self._tcp_connections -= 1
            writer.close()
