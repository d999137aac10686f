"""DNSServer on real loopback UDP and TCP sockets, asked by an independent client (dnspython)."""

from __future__ import annotations

import asyncio
import gc
import select
import socket
import struct
import types

import dns.asyncquery
import dns.flags
import dns.message
import dns.opcode
import dns.rcode
import dns.rdatatype
from dns_test_helpers import tcp_raw_many, udp_raw
from dnslib import QTYPE, RR, DNSRecord
from net_helpers import HOST, serving

from services.dns import reply_to

# 40 TXT records of ~65 bytes each: about 2.7 KB, too large for any UDP answer we send.
BIG = [f'"{i:03d} {"b" * 60}"' for i in range(40)]
# 11 TXT records: a bit over 900 bytes, more than 512 but within 1232.
MID = [f'"{i:03d} {"m" * 70}"' for i in range(11)]


async def txt_handler(query: DNSRecord, client, transport: str) -> DNSRecord:
    """A tiny handler: a.test A, big.test/mid.test TXT, boom.test raises."""
    name = str(query.q.qname).lower()
    if name == "boom.test.":
        raise RuntimeError("handler exploded")
    reply = reply_to(query, authoritative=True)
    if name == "a.test." and query.q.qtype == QTYPE.A:
        reply.add_answer(*RR.fromZone("a.test. 60 IN A 192.0.2.1"))
    elif name == "transport.test.":
        reply.add_answer(*RR.fromZone(f'transport.test. 60 IN TXT "{transport}"'))
    elif name in ("big.test.", "mid.test."):
        for text in BIG if name == "big.test." else MID:
            reply.add_answer(*RR.fromZone(f"{name} 60 IN TXT {text}"))
    return reply


def q(name: str, rdtype: str = "A", **kw) -> dns.message.QueryMessage:
    return dns.message.make_query(name, rdtype, **kw)


async def test_answers_over_udp_and_tcp() -> None:
    async with serving(txt_handler) as port:
        for ask in (dns.asyncquery.udp, dns.asyncquery.tcp):
            query = q("a.test")
            response = await ask(query, HOST, port=port, timeout=2)
            assert response.id == query.id
            assert response.rcode() == dns.rcode.NOERROR
            assert response.flags & dns.flags.AA
            assert [rr.to_text() for rr in response.answer[0]] == ["192.0.2.1"]


async def test_handler_is_told_the_transport() -> None:
    async with serving(txt_handler) as port:
        udp = await dns.asyncquery.udp(q("transport.test", "TXT"), HOST, port=port, timeout=2)
        tcp = await dns.asyncquery.tcp(q("transport.test", "TXT"), HOST, port=port, timeout=2)
    assert [rr.to_text() for rr in udp.answer[0]] == ['"udp"']
    assert [rr.to_text() for rr in tcp.answer[0]] == ['"tcp"']


async def test_handler_error_becomes_servfail_not_silence() -> None:
    async with serving(txt_handler) as port:
        for ask in (dns.asyncquery.udp, dns.asyncquery.tcp):
            query = q("boom.test")
            response = await ask(query, HOST, port=port, timeout=2)
            assert response.id == query.id
            assert response.rcode() == dns.rcode.SERVFAIL
            assert str(response.question[0].name) == "boom.test."
        # and it keeps serving
        response = await dns.asyncquery.udp(q("a.test"), HOST, port=port, timeout=2)
        assert response.rcode() == dns.rcode.NOERROR


async def test_malformed_udp_packets_get_formerr_or_nothing_and_server_keeps_serving() -> None:
    async with serving(txt_handler) as port:
        # too short for a header: nothing
        assert await udp_raw(b"\x12\x34\x01", port, timeout=0.3) is None
        # a response (QR set): never answered (no reflection loops)
        response = dns.message.make_response(q("a.test")).to_wire()
        assert await udp_raw(response, port, timeout=0.3) is None
        # a header with no question: FORMERR with the same ID
        header_only = struct.pack("!HHHHHH", 0x4242, 0x0100, 0, 0, 0, 0)
        reply = dns.message.from_wire(await udp_raw(header_only, port))
        assert (reply.id, reply.rcode()) == (0x4242, dns.rcode.FORMERR)
        # garbage after a header claiming a question: FORMERR with the same ID
        garbage = struct.pack("!HHHHHH", 0x0707, 0x0100, 1, 0, 0, 0) + b"\x3f\xff\xfe"
        reply = dns.message.from_wire(await udp_raw(garbage, port))
        assert (reply.id, reply.rcode()) == (0x0707, dns.rcode.FORMERR)
        # a NOTIFY: NOTIMP
        notify = q("a.test", "SOA", id=0x0808)
        notify.set_opcode(dns.opcode.NOTIFY)
        reply = dns.message.from_wire(await udp_raw(notify.to_wire(), port))
        assert (reply.id, reply.rcode()) == (0x0808, dns.rcode.NOTIMP)
        # still answering good queries
        response = await dns.asyncquery.udp(q("a.test"), HOST, port=port, timeout=2)
        assert [rr.to_text() for rr in response.answer[0]] == ["192.0.2.1"]


async def test_malformed_tcp_message_gets_formerr_and_connection_keeps_working() -> None:
    async with serving(txt_handler) as port:
        garbage = struct.pack("!HHHHHH", 0x0909, 0x0100, 1, 0, 0, 0) + b"\x3f\xff"
        good = q("a.test", id=0x0A0A).to_wire()
        answers = await tcp_raw_many([garbage, good], port)
    bad_reply, good_reply = (dns.message.from_wire(a) for a in answers)
    assert (bad_reply.id, bad_reply.rcode()) == (0x0909, dns.rcode.FORMERR)
    assert (good_reply.id, good_reply.rcode()) == (0x0A0A, dns.rcode.NOERROR)


async def test_big_answer_without_edns_is_truncated_over_udp_and_complete_over_tcp() -> None:
    async with serving(txt_handler) as port:
        query = q("big.test", "TXT", use_edns=False)
        udp = await dns.asyncquery.udp(query, HOST, port=port, timeout=2)
        assert udp.flags & dns.flags.TC
        assert udp.answer == []
        assert len(udp.to_wire()) <= 512
        tcp = await dns.asyncquery.tcp(query, HOST, port=port, timeout=2)
        assert not tcp.flags & dns.flags.TC
        assert sorted(rr.to_text() for rr in tcp.answer[0]) == sorted(BIG)


async def test_big_answer_is_truncated_even_with_large_edns_size() -> None:
    async with serving(txt_handler) as port:
        query = q("big.test", "TXT", use_edns=0, payload=4096)
        raw = await udp_raw(query.to_wire(), port)
    assert len(raw) <= 1232
    udp = dns.message.from_wire(raw)
    assert udp.flags & dns.flags.TC
    assert udp.edns == 0


async def test_mid_sized_answer_fits_with_edns_1232_but_not_in_512() -> None:
    async with serving(txt_handler) as port:
        with_edns = q("mid.test", "TXT", use_edns=0, payload=1232)
        raw = await udp_raw(with_edns.to_wire(), port)
        without_edns = await dns.asyncquery.udp(
            q("mid.test", "TXT", use_edns=False), HOST, port=port, timeout=2
        )
    assert 800 < len(raw) <= 1232
    response = dns.message.from_wire(raw)
    assert not response.flags & dns.flags.TC
    assert sorted(rr.to_text() for rr in response.answer[0]) == sorted(MID)
    assert response.edns == 0
    assert without_edns.flags & dns.flags.TC


async def test_several_queries_on_one_tcp_connection_are_all_answered() -> None:
    async with serving(txt_handler) as port:
        queries = [
            q("a.test", id=100),
            q("big.test", "TXT", id=101),
            q("nothing.test", id=102),
            q("boom.test", id=103),
        ]
        answers = [dns.message.from_wire(a) for a in await tcp_raw_many([x.to_wire() for x in queries], port)]
    assert [a.id for a in answers] == [100, 101, 102, 103]
    assert [a.rcode() for a in answers] == [dns.rcode.NOERROR] * 3 + [dns.rcode.SERVFAIL]
    assert len(answers[1].answer[0]) == 40
    assert answers[2].answer == []


async def test_closed_tcp_connections_leave_no_frames_for_the_garbage_collector() -> None:
    """A client closing its connection ends the server's read: the frames of that read are freed
    at once by reference counting, not kept in a cycle per connection (about 40 objects, through
    wait_for's future) for a collection to free in one pause. (The selector loop's transports, a
    cycle of the standard library's own that uvloop has not, are left aside.)"""
    async with serving(txt_handler) as port:
        await tcp_raw_many([q("nothing.test").to_wire()], port)  # what the first connection makes once
        gc.collect()
        gc.disable()
        gc.set_debug(gc.DEBUG_SAVEALL)  # what the collector finds is kept in gc.garbage to look at
        try:
            for i in range(20):
                answers = await tcp_raw_many([q("nothing.test", id=i).to_wire()], port)
                assert dns.message.from_wire(answers[0]).id == i
            await asyncio.sleep(0.1)  # the server hears each close
            gc.collect()
            frames = [o.f_code.co_name for o in gc.garbage if isinstance(o, types.FrameType)]
            assert not frames, "frames only the garbage collector frees"
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
            gc.enable()


async def test_concurrent_udp_queries_are_answered_independently() -> None:
    async def slow_or_fast(query: DNSRecord, client, transport: str) -> DNSRecord:
        if str(query.q.qname) == "slow.test.":
            await asyncio.sleep(0.5)
        return reply_to(query)

    async with serving(slow_or_fast) as port:
        loop = asyncio.get_running_loop()
        slow = asyncio.ensure_future(dns.asyncquery.udp(q("slow.test"), HOST, port=port, timeout=2))
        await asyncio.sleep(0.05)
        started = loop.time()
        await dns.asyncquery.udp(q("fast.test"), HOST, port=port, timeout=2)
        assert loop.time() - started < 0.2
        await slow


async def test_a_resident_gets_through_while_one_address_opens_hundreds_of_tcp_connections() -> None:
    """Three hundred connections from one address arrive while the server is busy (its loop blocked):
    the kernel queues them all (the listen backlog, TCP_BACKLOG), so a resident's connection arriving
    after them is still taken at once and answered; a full queue drops its SYN, resent a second later."""
    async with serving(txt_handler) as port:
        flood: list[socket.socket] = []
        resident = socket.socket()
        try:
            # Nothing below awaits: the server accepts none of them until the resident's SYN was answered.
            for _ in range(300):
                sock = socket.socket()
                sock.setblocking(False)
                sock.bind(("127.0.0.2", 0))
                flood.append(sock)
                sock.connect_ex((HOST, port))
            resident.setblocking(False)
            resident.connect_ex((HOST, port))
            _, connected, _ = select.select([], [resident], [], 0.5)
            assert connected, "the resident's SYN was dropped: the listen queue was full"
            reader, writer = await asyncio.open_connection(sock=resident)
            query = q("a.test", id=7).to_wire()
            writer.write(struct.pack("!H", len(query)) + query)
            (length,) = struct.unpack("!H", await asyncio.wait_for(reader.readexactly(2), 2.0))
            answer = dns.message.from_wire(await reader.readexactly(length))
            writer.close()
        finally:
            for sock in flood:
                sock.close()
            resident.close()
    assert answer.id == 7 and [rr.to_text() for rr in answer.answer[0]] == ["192.0.2.1"]
