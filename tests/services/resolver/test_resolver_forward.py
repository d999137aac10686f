"""A plain query for an outside name is forwarded from its bytes and answered from the bytes just cached.

The reply to the query that brought an answer is byte for byte the cache hit every later asker
gets (only the ID differs, each the asker's own); what the upstream sends is still taken only
with the random ID and the question the resolver asked. Real sockets, dnspython to read.
"""

from __future__ import annotations

import asyncio
import gc
import socket

import dns.message
import dns.rcode
import pytest
from dnslib import RR, DNSRecord
from resolver_test_helpers import HOST, ControlledUpstream, addresses, config, running, world

BATCHED = [pytest.param(True, id="batched"), pytest.param(False, id="per-datagram")]


async def exchange(port: int, packet: bytes) -> bytes:
    loop = asyncio.get_running_loop()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect((HOST, port))
        sock.setblocking(False)
        sock.send(packet)
        async with asyncio.timeout(3):
            return await loop.sock_recv(sock, 65535)


def query(name: str, qid: int, **kw: object) -> bytes:
    message = dns.message.make_query(name, "A", **kw)
    message.id = qid
    return message.to_wire()


@pytest.mark.parametrize("batched", BATCHED)
async def test_a_forwarded_answer_is_byte_for_byte_the_cache_hit_that_follows_it(batched: bool) -> None:
    upstream = ControlledUpstream(ttl=300)
    async with world(upstream, batched=batched) as (port, resolver):
        replies = {}
        for name, kw in (("WwW.Bank.Example", {"use_edns": 0}), ("nx.bank.example", {})):
            forwarded = await exchange(port, query(name, 101, **kw))
            cached = await exchange(port, query(name, 202, **kw))
            assert forwarded[:2] == (101).to_bytes(2, "big") and cached[:2] == (202).to_bytes(2, "big")
            assert forwarded[2:] == cached[2:]
            assert upstream.count(name) == 1
            replies[name] = dns.message.from_wire(forwarded)
        positive, negative = replies.values()
        assert str(positive.question[0].name) == "WwW.Bank.Example." and addresses(positive) == ["192.0.2.1"]
        assert positive.answer[0].ttl == 300 and positive.edns == 0
        assert negative.rcode() == dns.rcode.NXDOMAIN and negative.authority[0].ttl == 3600
        assert resolver._hot.sources["upstream"] == 2 and resolver._hot.cache_hits == 2


class ForgingUpstream(asyncio.DatagramProtocol):
    """Answers each query three times: with a wrong ID, with its ID but another question, then truly."""

    def __init__(self) -> None:
        self.received: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.received.append(data)
        wrong_id = bytes([data[0] ^ 0x01]) + answer(data, "203.0.113.1")[1:]
        other = DNSRecord.question("forged.example")
        other.header.id = int.from_bytes(data[:2], "big")
        self.transport.sendto(wrong_id, addr)  # type: ignore[attr-defined]
        self.transport.sendto(answer(other.pack(), "203.0.113.2"), addr)  # type: ignore[attr-defined]
        self.transport.sendto(answer(data, "192.0.2.9"), addr)  # type: ignore[attr-defined]


def answer(data: bytes, address: str) -> bytes:
    reply = DNSRecord.parse(data).reply()
    reply.add_answer(*RR.fromZone(f"{reply.q.qname} 300 IN A {address}"))
    return reply.pack()


async def test_answers_with_a_wrong_id_or_question_are_ignored_and_the_real_one_is_cached() -> None:
    loop = asyncio.get_running_loop()
    transport, upstream = await loop.create_datagram_endpoint(ForgingUpstream, local_addr=(HOST, 0))
    try:
        async with running(config([transport.get_extra_info("sockname")[1]])) as (port, _):
            first = dns.message.from_wire(await exchange(port, query("www.shop.example", 7)))
            again = dns.message.from_wire(await exchange(port, query("www.shop.example", 8)))
    finally:
        transport.close()
    assert addresses(first) == addresses(again) == ["192.0.2.9"]
    assert (first.id, again.id) == (7, 8)
    assert len(upstream.received) == 1  # the second was a cache hit


async def test_failed_forwards_leave_nothing_for_the_garbage_collector() -> None:
    """A forwarded query no upstream answered usefully is answered SERVFAIL and freed at once by
    reference counting: raised again to be answered, the failure kept a cycle per query (about
    40 objects) for a collection to walk and free, a pause growing with the names asked."""
    async with world(ControlledUpstream(mode="refuse")) as (port, resolver):
        await exchange(port, query("warm.example", 1))  # what the first query makes once
        names = 20
        gc.collect()
        gc.disable()
        try:
            for i in range(names):
                reply = dns.message.from_wire(await exchange(port, query(f"n{i}.example", i)))
                assert reply.rcode() == dns.rcode.SERVFAIL
            assert gc.collect() < names, "objects only the garbage collector frees, per failed query"
        finally:
            gc.enable()
