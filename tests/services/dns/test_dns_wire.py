"""Parsing queries and building replies: what a client gets for odd packets, EDNS size and truncation."""

from __future__ import annotations

import struct

import dns.flags
import dns.message
import dns.opcode
import dns.rcode
import pytest
from dnslib import QTYPE, RCODE, RR, DNSQuestion, DNSRecord

from services.dns.wire import (
    MalformedPacket,
    client_udp_size,
    error_reply_bytes,
    pack_for_udp,
    parse_query,
    reply_to,
    servfail,
    with_id,
)


def wire_query(name: str = "krisinfo.kommun.example", rdtype: str = "A", **kw) -> bytes:
    return dns.message.make_query(name, rdtype, **kw).to_wire()


def test_parse_query_accepts_a_plain_query() -> None:
    query = parse_query(wire_query(id=4711))
    assert query.header.id == 4711
    assert str(query.q.qname) == "krisinfo.kommun.example."
    assert query.q.qtype == QTYPE.A


def test_parse_query_rejects_a_response() -> None:
    q = dns.message.make_query("krisinfo.kommun.example", "A")
    response = dns.message.make_response(q).to_wire()
    with pytest.raises(MalformedPacket) as err:
        parse_query(response)
    assert err.value.rcode == RCODE.FORMERR


def test_parse_query_rejects_non_query_opcode_with_notimp() -> None:
    q = dns.message.make_query("kommun.example", "SOA")
    q.set_opcode(dns.opcode.NOTIFY)
    with pytest.raises(MalformedPacket) as err:
        parse_query(q.to_wire())
    assert err.value.rcode == RCODE.NOTIMP


def test_parse_query_rejects_zero_questions() -> None:
    header_only = struct.pack("!HHHHHH", 1234, 0x0100, 0, 0, 0, 0)
    with pytest.raises(MalformedPacket) as err:
        parse_query(header_only)
    assert err.value.rcode == RCODE.FORMERR


def test_parse_query_rejects_two_questions() -> None:
    two = DNSRecord(questions=[DNSQuestion("a.example"), DNSQuestion("b.example")]).pack()
    with pytest.raises(MalformedPacket) as err:
        parse_query(two)
    assert err.value.rcode == RCODE.FORMERR


@pytest.mark.parametrize(
    "garbage",
    [
        b"",
        b"\x00",
        b"hello world, this is not DNS at all!",
        struct.pack("!HHHHHH", 1, 0x0100, 1, 0, 0, 0),  # claims a question, has none
        struct.pack("!HHHHHH", 1, 0x0100, 1, 0, 0, 0) + b"\x3fabc",  # label runs past the end
        bytes(range(256)),
    ],
)
def test_parse_query_rejects_garbage(garbage: bytes) -> None:
    with pytest.raises(MalformedPacket):
        parse_query(garbage)


@pytest.mark.parametrize("data", [b"", b"\x12\x34", b"\x12\x34" + b"\x00" * 9])
def test_error_reply_is_none_for_packets_shorter_than_a_header(data: bytes) -> None:
    assert error_reply_bytes(data, RCODE.FORMERR) is None


def test_error_reply_is_none_for_a_response() -> None:
    response_header = struct.pack("!HHHHHH", 0xBEEF, 0x8180, 0, 0, 0, 0)
    assert error_reply_bytes(response_header + b"junk", RCODE.FORMERR) is None


def test_error_reply_is_formerr_header_with_same_id() -> None:
    data = struct.pack("!HHHHHH", 0xBEEF, 0x0100, 1, 0, 0, 0) + b"\xff\xff\xff"
    reply = error_reply_bytes(data, RCODE.FORMERR)
    assert reply is not None
    message = dns.message.from_wire(reply)
    assert message.id == 0xBEEF
    assert message.flags & dns.flags.QR
    assert message.flags & dns.flags.RD  # the client's RD is echoed
    assert message.rcode() == dns.rcode.FORMERR
    assert message.opcode() == dns.opcode.QUERY
    assert (len(message.question), len(message.answer), len(message.authority), len(message.additional)) == (
        0,
        0,
        0,
        0,
    )


def test_error_reply_keeps_the_opcode_for_notimp() -> None:
    q = dns.message.make_query("kommun.example", "SOA", id=77)
    q.set_opcode(dns.opcode.UPDATE)
    reply = dns.message.from_wire(error_reply_bytes(q.to_wire(), RCODE.NOTIMP))
    assert reply.id == 77
    assert reply.rcode() == dns.rcode.NOTIMP
    assert reply.opcode() == dns.opcode.UPDATE


def test_client_udp_size_is_512_without_edns() -> None:
    assert client_udp_size(parse_query(wire_query(use_edns=False))) == 512


@pytest.mark.parametrize(
    ("advertised", "honoured"),
    [(512, 512), (1000, 1000), (1232, 1232), (4096, 1232), (65535, 1232), (100, 512)],
)
def test_client_udp_size_honours_edns_within_512_and_1232(advertised: int, honoured: int) -> None:
    query = parse_query(wire_query(use_edns=0, payload=advertised))
    assert client_udp_size(query) == honoured


def big_response(txt_count: int, with_edns: bool = False) -> DNSRecord:
    query = parse_query(wire_query("big.test", "TXT", use_edns=0 if with_edns else False))
    reply = reply_to(query)
    for i in range(txt_count):
        reply.add_answer(*RR.fromZone(f'big.test. 60 IN TXT "{i:03d} {"x" * 50}"'))
    return reply


def test_pack_for_udp_leaves_a_fitting_answer_alone() -> None:
    reply = big_response(3)
    data = pack_for_udp(reply, 512)
    message = dns.message.from_wire(bytes(data))
    assert not message.flags & dns.flags.TC
    assert len(message.answer[0]) == 3


def test_pack_for_udp_truncates_and_drops_answers_when_too_large() -> None:
    reply = big_response(40, with_edns=True)
    assert len(reply.pack()) > 1232
    data = pack_for_udp(reply, 512)
    assert len(data) <= 512
    message = dns.message.from_wire(bytes(data))
    assert message.flags & dns.flags.TC
    assert message.answer == []
    assert message.authority == []
    assert str(message.question[0].name) == "big.test."
    assert message.edns == 0  # the OPT record stays


def test_reply_to_echoes_id_question_rd_and_edns() -> None:
    q = dns.message.make_query("krisinfo.kommun.example", "A", id=999, use_edns=0, payload=4096)
    q.flags &= ~dns.flags.RD
    reply = reply_to(parse_query(q.to_wire()), rcode=RCODE.NXDOMAIN, authoritative=True)
    message = dns.message.from_wire(bytes(reply.pack()))
    assert message.id == 999
    assert not message.flags & dns.flags.RD
    assert message.flags & dns.flags.AA
    assert message.flags & dns.flags.QR
    assert message.rcode() == dns.rcode.NXDOMAIN
    assert message.question == q.question
    assert message.edns == 0
    assert message.payload == 1232


def test_reply_to_has_no_edns_when_query_had_none() -> None:
    reply = reply_to(parse_query(wire_query(use_edns=False)))
    assert dns.message.from_wire(bytes(reply.pack())).edns == -1


def test_servfail_keeps_id_and_question() -> None:
    query = parse_query(wire_query(id=31337))
    message = dns.message.from_wire(bytes(servfail(query).pack()))
    assert message.id == 31337
    assert message.rcode() == dns.rcode.SERVFAIL
    assert str(message.question[0].name) == "krisinfo.kommun.example."


def test_with_id_replaces_only_the_id() -> None:
    data = wire_query(id=1)
    changed = with_id(data, 0xABCD)
    assert changed[:2] == b"\xab\xcd"
    assert changed[2:] == data[2:]
