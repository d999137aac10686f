"""The resolver's shared sockets to an upstream: real UDP sockets on loopback, a scripted upstream.

Sharing sockets must not make a forged answer easier: every query has its own random ID, an answer
is taken only for a waiting ID and the question asked, from the upstream's own address and port,
and the source port keeps changing.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from dnslib import QTYPE, RR, A, DNSRecord

from services.dns import DNSTimeout
from services.resolver import upstream_sockets
from services.resolver.upstream_sockets import UpstreamSockets

HOST = "127.0.0.1"
Reply = Callable[[DNSRecord, tuple[str, int], asyncio.DatagramTransport], None]


class Upstream(asyncio.DatagramProtocol):
    """A scripted upstream: ``reply`` gets each query; every query's ID and source port are kept."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.ids: list[int] = []
        self.ports: list[int] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        query = DNSRecord.parse(data)
        self.ids.append(query.header.id)
        self.ports.append(addr[1])
        assert self.transport is not None
        self.reply(query, addr, self.transport)


def answer_to(query: DNSRecord, address: str = "192.0.2.1") -> bytes:
    reply = query.reply()
    reply.add_answer(RR(query.q.qname, QTYPE.A, rdata=A(address), ttl=60))
    return reply.pack()


def question(name: str) -> bytes:
    return DNSRecord.question(name, "A").pack()


@contextlib.asynccontextmanager
async def sockets_to(reply: Reply) -> AsyncIterator[tuple[Upstream, UpstreamSockets]]:
    """A scripted upstream and the resolver's sockets to it, both closed afterwards."""
    transport, server = await asyncio.get_running_loop().create_datagram_endpoint(
        lambda: Upstream(reply), local_addr=(HOST, 0)
    )
    sockets = UpstreamSockets(HOST, transport.get_extra_info("sockname")[1])
    try:
        yield server, sockets
    finally:
        sockets.close()
        transport.close()


async def test_queries_share_a_few_sockets_whose_ports_keep_changing() -> None:
    async with sockets_to(lambda q, addr, t: t.sendto(answer_to(q), addr)) as (server, sockets):
        rounds = 3 * upstream_sockets.USES
        for batch in range(rounds // 32):
            names = [f"n{batch}-{i}.example" for i in range(32)]
            answers = await asyncio.gather(*(sockets.exchange(question(n), 2.0) for n in names))
            for name, data in zip(names, answers, strict=True):
                assert str(DNSRecord.parse(data).q.qname) == name + "."
        assert len(server.ports) == rounds
        # At most SOCKETS at once, each replaced after USES queries: new random ports all along.
        assert len(set(server.ports)) >= rounds // upstream_sockets.USES
        assert len(set(server.ports[: upstream_sockets.USES])) <= upstream_sockets.SOCKETS
        assert len(set(server.ids)) > rounds * 0.9, "IDs are random, not a counter per socket"


@contextlib.contextmanager
def collector_off() -> Iterator[None]:
    """Only the test's own gc.collect() runs: what it finds is what the queries left behind."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


async def test_replaced_sockets_leave_nothing_for_the_garbage_collector() -> None:
    """Each socket, once replaced, is freed at once by reference counting: a cycle left per socket
    (about 8 objects) piled up for a collection to walk and free, a pause growing with the names
    asked (9 ms after 100,000 new names, bench/scale/resolver.py)."""
    async with sockets_to(lambda q, addr, t: t.sendto(answer_to(q), addr)) as (_, sockets):
        replaced = 10
        with collector_off():
            for i in range(replaced * upstream_sockets.USES):
                await sockets.exchange(question(f"n{i}.example"), 2.0)
            await asyncio.sleep(0.05)  # the last closed sockets hear connection_lost
            assert gc.collect() < replaced, "objects only the garbage collector frees, per replaced socket"


async def test_timed_out_queries_leave_nothing_for_the_garbage_collector() -> None:
    async with sockets_to(lambda q, addr, t: None) as (_, sockets):  # never answers
        timeouts = 20
        with collector_off():
            for i in range(timeouts):
                with pytest.raises(DNSTimeout):
                    await sockets.exchange(question(f"t{i}.example"), 0.01)
            assert gc.collect() < timeouts, "objects only the garbage collector frees, per timeout"


async def test_a_wrong_id_a_wrong_question_and_another_address_are_ignored() -> None:
    forger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    forger.bind((HOST, 0))

    def reply(query: DNSRecord, addr: tuple[str, int], transport: asyncio.DatagramTransport) -> None:
        wrong_id = DNSRecord.parse(answer_to(query, "203.0.113.1"))
        wrong_id.header.id = (query.header.id + 1) % 0x10000
        transport.sendto(wrong_id.pack(), addr)
        other = DNSRecord.question("forged.example", "A")
        other.header.id = query.header.id
        transport.sendto(answer_to(other, "203.0.113.2"), addr)  # the right ID, another question
        forger.sendto(answer_to(query, "203.0.113.3"), addr)  # all right, but from another address
        loop = asyncio.get_running_loop()
        loop.call_later(0.05, transport.sendto, answer_to(query), addr)  # the real answer, last

    async with sockets_to(reply) as (server, sockets):
        try:
            data = await sockets.exchange(question("www.example"), 2.0)
            got = DNSRecord.parse(data)
            assert [str(rr.rdata) for rr in got.rr] == ["192.0.2.1"]
            assert got.header.id == server.ids[0]
        finally:
            forger.close()


async def test_a_late_answer_after_a_timeout_is_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(upstream_sockets, "SOCKETS", 1)  # both queries on the one socket
    late: list[bytes] = []

    def reply(query: DNSRecord, addr: tuple[str, int], transport: asyncio.DatagramTransport) -> None:
        if str(query.q.qname) == "slow.example.":
            late.append(answer_to(query, "203.0.113.9"))
            return
        for data in late:  # the slow name's answer arrives now, with an ID nobody waits for
            transport.sendto(data, addr)
        asyncio.get_running_loop().call_later(0.05, transport.sendto, answer_to(query), addr)

    async with sockets_to(reply) as (server, sockets):
        with pytest.raises(DNSTimeout):
            await sockets.exchange(question("slow.example"), 0.1)
        data = await sockets.exchange(question("quick.example"), 2.0)
        assert [str(rr.rdata) for rr in DNSRecord.parse(data).rr] == ["192.0.2.1"]
        assert len(set(server.ports)) == 1 and late
