"""Helpers for the resolver tests: asking with dnspython, timing, fake and controllable upstreams.

Free ports and serving a handler: net_helpers.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import dns.asyncquery
import dns.message
import dns.rdatatype
from net_helpers import HOST, free_port, serving

from services.dns import DNSServer
from services.resolver import IslandResolver, ResolverConfig

T = TypeVar("T")


async def ask(
    port: int, name: str, rdtype: str = "A", *, tcp: bool = False, timeout: float = 3, **kw
) -> dns.message.Message:
    """Ask the server on ``port`` with dnspython (an independent client); ``kw`` goes to make_query."""
    query = dns.message.make_query(name, rdtype, **kw)
    send = dns.asyncquery.tcp if tcp else dns.asyncquery.udp
    return await send(query, HOST, port=port, timeout=timeout)


async def timed(coro: Awaitable[T]) -> tuple[T, float]:
    """The result of ``coro`` and the seconds it took."""
    started = time.monotonic()
    result = await coro
    return result, time.monotonic() - started


def addresses(response: dns.message.Message) -> list[str]:
    """The A addresses in the answer section, in order."""
    return [rr.to_text() for rrset in response.answer if rrset.rdtype == dns.rdatatype.A for rr in rrset]


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
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: FakeUpstream(reply), local_addr=(HOST, 0)
    )
    try:
        yield transport.get_extra_info("sockname")[1], protocol
    finally:
        transport.close()


class ControlledUpstream:
    """A real DNSServer playing the outside world, switchable between behaviours.

    ``answer``: A 192.0.2.1 for any name (``ttl`` seconds), NXDOMAIN with an SOA for names
    starting ``nx``, NODATA for AAAA, 30 big TXT records for ``big.*``;
    ``blackhole``: never answers; ``refuse``: answers REFUSED; ``lossy``: every other question is
    lost (a lossy uplink, half the packets gone). ``delay`` slows answers down.
    """

    def __init__(self, mode: str = "answer", ttl: int = 60, delay: float = 0.0) -> None:
        self.mode = mode
        self.ttl = ttl
        self.delay = delay
        self.asked: list[tuple[str, str]] = []  # (name, transport)

    async def handle(self, query, client, transport):
        from dnslib import QTYPE, RCODE, RR

        from services.dns import reply_to

        name = str(query.q.qname).lower()
        self.asked.append((name, transport))
        if self.mode == "blackhole" or (self.mode == "lossy" and len(self.asked) % 2):
            await asyncio.Event().wait()
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.mode == "refuse":
            return reply_to(query, rcode=RCODE.REFUSED)
        soa = RR.fromZone("example. 3600 IN SOA ns.example. host.example. 9 3600 600 86400 60")[0]
        if name.startswith("nx"):
            reply = reply_to(query, rcode=RCODE.NXDOMAIN, authoritative=True)
            reply.add_auth(soa)
            return reply
        reply = reply_to(query, authoritative=True)
        if name.startswith("big."):
            for i in range(30):
                reply.add_answer(*RR.fromZone(f'{name} {self.ttl} IN TXT "{i:03d} {"x" * 60}"'))
        elif query.q.qtype == QTYPE.A:
            reply.add_answer(*RR.fromZone(f"{name} {self.ttl} IN A 192.0.2.1"))
        else:
            reply.add_auth(soa)
        return reply

    def count(self, name: str) -> int:
        return sum(1 for asked, _ in self.asked if asked == name.lower().rstrip(".") + ".")


LOCAL = {"name": "krisinfo.kommun.example", "type": "static", "data": "@ 30 IN A 10.20.0.10\n"}


def config(upstream_ports: list[int], **extra) -> ResolverConfig:
    raw = {
        "listen": {"host": HOST, "port": 53},
        "local_zones": [LOCAL],
        "upstreams": [{"host": HOST, "port": p} for p in upstream_ports],
        "forward_timeout": 0.4,
        "health": {"recheck_interval": 0.5, "down_after": 2},
    }
    for key, value in extra.items():
        raw[key] = (
            {**raw[key], **value} if isinstance(value, dict) and isinstance(raw.get(key), dict) else value
        )
    return ResolverConfig.model_validate(raw)


@contextlib.asynccontextmanager
async def running(cfg: ResolverConfig, *, batched: bool = True):
    """The resolver served the way `serve()` does it: fast path and configured TCP limits.

    ``batched=False`` serves UDP one datagram at a time, as on systems without recvmmsg.
    """
    resolver = IslandResolver(cfg)
    for _ in range(5):
        port = free_port()
        server = DNSServer(
            resolver.handle,
            HOST,
            port,
            fast_path=resolver,
            max_tcp_connections=cfg.limits.tcp_connections,
            max_tcp_per_client=cfg.limits.tcp_connections_per_client,
            tcp_idle_seconds=cfg.limits.tcp_idle_seconds,
            batched=batched,
            count_problem=lambda kind: resolver.metrics.bad_packets.labels(kind).inc(),
        )
        try:
            await server.start()
        except OSError:
            continue
        break
    try:
        yield port, resolver
    finally:
        await server.stop()
        await resolver.close()


@contextlib.asynccontextmanager
async def world(*upstreams: ControlledUpstream, batched: bool = True, **extra):
    """Serve each controlled upstream, then the resolver in front of them; yields (port, resolver)."""
    async with contextlib.AsyncExitStack() as stack:
        ports = [await stack.enter_async_context(serving(u.handle)) for u in upstreams]
        yield await stack.enter_async_context(running(config(ports, **extra), batched=batched))
