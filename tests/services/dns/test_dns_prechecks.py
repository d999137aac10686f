"""Hostile packets refused before any parse, on real sockets, asked by dnspython and by raw bytes.

What a client sees: FORMERR (or BADVERS) at once, never a traceback in the log, every refusal
counted; and one address cannot take every TCP slot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import time
from collections.abc import AsyncIterator

import dns.asyncquery
import dns.message
import dns.rcode
import pytest
from dns_test_helpers import udp_raw
from dnslib import RR, DNSRecord
from net_helpers import HOST, free_port

from services.dns import DNSServer, reply_to

NAME = b"\x08krisinfo\x06kommun\x07example\x00"
QUESTION = NAME + b"\x00\x01\x00\x01"  # A, IN
OPT = b"\x00" + struct.pack("!HHIH", 41, 1232, 0, 0)  # EDNS0, root owner, no options


async def answer_a(query: DNSRecord, client, transport: str) -> DNSRecord:
    reply = reply_to(query, authoritative=True)
    reply.add_answer(*RR.fromZone(f"{query.q.qname} 60 IN A 192.0.2.1"))
    return reply


@contextlib.asynccontextmanager
async def server(**limits: int) -> AsyncIterator[tuple[DNSServer, int]]:
    for _ in range(5):
        port = free_port()
        dns_server = DNSServer(answer_a, HOST, port, **limits)  # type: ignore[arg-type]
        try:
            await dns_server.start()
        except OSError:
            continue
        break
    try:
        yield dns_server, port
    finally:
        await dns_server.stop()


def header(qd: int = 1, an: int = 0, ns: int = 0, ar: int = 0, query_id: int = 4711) -> bytes:
    return struct.pack("!HHHHHH", query_id, 0x0100, qd, an, ns, ar)


def rcode_of(reply: bytes | None) -> int | None:
    return None if reply is None else dns.message.from_wire(reply, ignore_trailing=True).rcode()


def compressed_questions(count: int) -> bytes:
    """``count`` questions, each a pointer to the first name: the issue's 10,000-question packet."""
    return header(qd=count) + QUESTION + (b"\xc0\x0c\x00\x01\x00\x01" * (count - 1))


@pytest.mark.parametrize(
    "packet",
    [
        header(qd=65535) + QUESTION,
        compressed_questions(10_000),
        header(qd=0),
        header(qd=2) + QUESTION + QUESTION,
    ],
    ids=["qdcount-65535", "10000-compressed-questions", "no-question", "two-questions"],
)
async def test_anything_but_one_question_is_formerr_at_once(packet: bytes) -> None:
    async with server() as (dns_server, port):
        started = time.monotonic()
        replies = [await udp_raw(packet, port) for _ in range(50)]
        elapsed = time.monotonic() - started
    assert [rcode_of(r) for r in replies] == [dns.rcode.FORMERR] * 50
    # Parsing 10,000 questions cost 110-180 ms a packet: 50 of them took seconds.
    assert elapsed < 1.0, f"50 refusals took {elapsed:.2f} s"
    assert dns_server.problems["malformed"] == 50


async def test_a_name_longer_than_255_octets_is_formerr_without_a_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    long_name = (b"\x3f" + b"a" * 63) * 4 + b"\x00"  # 4 x 64 + 1 = 257 octets
    packet = header() + long_name + b"\x00\x01\x00\x01"
    caplog.set_level(logging.DEBUG)
    async with server() as (dns_server, port):
        replies = [await udp_raw(packet, port) for _ in range(20)]
        fine = await dns.asyncquery.udp(dns.message.make_query("a.test", "A"), HOST, port=port, timeout=2)
    assert [rcode_of(r) for r in replies] == [dns.rcode.FORMERR] * 20
    assert fine.rcode() == dns.rcode.NOERROR
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged for a bad packet"
    assert dns_server.problems["malformed"] == 20


async def test_edns_version_1_gets_badvers_with_the_question_and_our_opt() -> None:
    async with server() as (_, port):
        query = dns.message.make_query("krisinfo.kommun.example", "A", use_edns=1)
        response = await dns.asyncquery.udp(query, HOST, port=port, timeout=2)
    assert response.rcode() == dns.rcode.BADVERS
    assert response.edns == 0  # the version we speak
    assert str(response.question[0].name) == "krisinfo.kommun.example."
    assert response.answer == []


@pytest.mark.parametrize(
    "packet",
    [
        header(ar=2) + QUESTION + OPT + OPT,
        header(ar=1) + QUESTION + b"\xc0\x0c" + OPT[1:],  # owned by the question's name
        header(an=1) + QUESTION + OPT,  # in the answer section
        header(ns=1) + QUESTION + OPT,  # in the authority section
    ],
    ids=["two-opts", "opt-not-owned-by-root", "opt-in-answers", "opt-in-authority"],
)
async def test_misplaced_or_duplicate_opt_is_formerr(packet: bytes) -> None:
    async with server() as (dns_server, port):
        reply = await udp_raw(packet, port)
        plain = await udp_raw(header(ar=1) + QUESTION + OPT, port)
    assert rcode_of(reply) == dns.rcode.FORMERR
    assert rcode_of(plain) == dns.rcode.NOERROR
    assert dns_server.problems["malformed"] == 1


async def test_one_address_cannot_hold_every_tcp_slot() -> None:
    async with server(max_tcp_connections=8, max_tcp_per_client=3) as (dns_server, port):
        held = [await asyncio.open_connection(HOST, port, local_addr=("127.0.0.1", 0)) for _ in range(3)]
        await asyncio.sleep(0.05)
        reader, writer = await asyncio.open_connection(HOST, port, local_addr=("127.0.0.1", 0))
        over_cap = await asyncio.wait_for(reader.read(), 1)  # the fourth from this address: closed at once
        writer.close()
        # Another address (a resident) still gets its TCP answers.
        query = dns.message.make_query("krisinfo.kommun.example", "A")
        response = await dns.asyncquery.tcp(query, HOST, port=port, source="127.0.0.2", timeout=2)
        for _, held_writer in held:
            held_writer.close()
    assert over_cap == b""
    assert response.rcode() == dns.rcode.NOERROR and response.answer
    assert dns_server.problems["tcp_refused"] == 1
