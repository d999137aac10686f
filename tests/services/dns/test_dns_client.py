"""Our DNS client: answers, TC -> TCP fallback, and the two ways a server fails (refused, silent)."""

from __future__ import annotations

import asyncio
import time

import dns.message
import pytest
from dnslib import QTYPE, RCODE, RR, DNSRecord
from net_helpers import HOST, free_port, serving

from services.dns import DNSRefused, DNSTimeout, exchange, query, reply_to
from services.dns.wire import with_id


async def handler(q: DNSRecord, client, transport: str) -> DNSRecord:
    reply = reply_to(q, authoritative=True)
    if str(q.q.qname) == "big.test.":
        for i in range(40):
            reply.add_answer(*RR.fromZone(f'big.test. 60 IN TXT "{i:03d} {"x" * 60}"'))
    elif str(q.q.qname) == "a.test.":
        reply.add_answer(*RR.fromZone("a.test. 60 IN A 192.0.2.1"))
    else:
        reply.header.rcode = RCODE.NXDOMAIN
    return reply


async def test_query_returns_the_answer() -> None:
    async with serving(handler) as port:
        answer = await query("a.test", "A", HOST, port, timeout=2)
        nx = await query("nope.test", QTYPE.A, HOST, port, timeout=2)
    assert [str(rr.rdata) for rr in answer.rr] == ["192.0.2.1"]
    assert nx.header.rcode == RCODE.NXDOMAIN


async def test_query_falls_back_to_tcp_when_truncated() -> None:
    async with serving(handler) as port:
        answer = await query("big.test", "TXT", HOST, port, timeout=2)
    assert not answer.header.tc
    assert len(answer.rr) == 40


async def test_refused_port_fails_fast_with_dns_refused() -> None:
    port = free_port()  # nothing listens there
    started = time.monotonic()
    with pytest.raises(DNSRefused):
        await query("a.test", "A", HOST, port, timeout=2)
    with pytest.raises(DNSRefused):
        await query("a.test", "A", HOST, port, timeout=2, tcp=True)
    assert time.monotonic() - started < 0.5


async def test_silent_server_times_out() -> None:
    loop = asyncio.get_running_loop()
    sink, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=(HOST, 0))
    try:
        port = sink.get_extra_info("sockname")[1]
        started = time.monotonic()
        with pytest.raises(DNSTimeout):
            await query("a.test", "A", HOST, port, timeout=0.3)
        assert 0.25 < time.monotonic() - started < 0.6
    finally:
        sink.close()


async def test_exchange_ignores_an_answer_with_the_wrong_id() -> None:
    class WrongThenRight(asyncio.DatagramProtocol):
        def connection_made(self, transport) -> None:
            self.transport = transport

        def datagram_received(self, data: bytes, addr) -> None:
            response = dns.message.make_response(dns.message.from_wire(data)).to_wire()
            wrong_id = (int.from_bytes(data[:2], "big") + 1) & 0xFFFF
            self.transport.sendto(with_id(response, wrong_id), addr)
            loop = asyncio.get_running_loop()
            loop.call_later(0.1, self.transport.sendto, response, addr)

    loop = asyncio.get_running_loop()
    fake, _ = await loop.create_datagram_endpoint(WrongThenRight, local_addr=(HOST, 0))
    try:
        port = fake.get_extra_info("sockname")[1]
        packet = dns.message.make_query("a.test", "A", id=555).to_wire()
        data = await exchange(packet, HOST, port, timeout=1)
        assert int.from_bytes(data[:2], "big") == 555
    finally:
        fake.close()
