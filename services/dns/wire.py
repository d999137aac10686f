"""Parsing and building DNS messages. No policy: what to answer is decided elsewhere."""

from __future__ import annotations

import struct

from dnslib import EDNS0, OPCODE, QTYPE, RCODE, DNSError, DNSHeader, DNSRecord, EDNSOption

CLASSIC_UDP_SIZE = 512
# What we advertise and the most we send over UDP (DNS Flag Day 2020 value).
OUR_UDP_SIZE = 1232


class MalformedPacket(ValueError):
    """A packet we cannot treat as a query. ``rcode`` is what to answer, if anything."""

    def __init__(self, reason: str, rcode: int = RCODE.FORMERR) -> None:
        super().__init__(reason)
        self.rcode = rcode


def parse_query(data: bytes) -> DNSRecord:
    """Parse a client's query, refusing anything a resolver should not process."""
    try:
        record = DNSRecord.parse(data)
    except (DNSError, ValueError, IndexError, struct.error, UnicodeError) as exc:
        raise MalformedPacket(f"unparseable packet: {exc}") from exc
    header = record.header
    if header.qr:
        raise MalformedPacket("a response, not a query")
    if header.opcode != OPCODE.QUERY:
        raise MalformedPacket(f"opcode {header.opcode} not implemented", RCODE.NOTIMP)
    if len(record.questions) != 1:
        raise MalformedPacket(f"{len(record.questions)} questions, expected 1")
    return record


def parse_response(data: bytes) -> DNSRecord:
    try:
        return DNSRecord.parse(data)
    except (DNSError, ValueError, IndexError, struct.error, UnicodeError) as exc:
        raise MalformedPacket(f"unparseable response: {exc}") from exc


def error_reply_bytes(data: bytes, rcode: int) -> bytes | None:
    """A header-only error reply built from the raw packet, or None when it is too short to answer."""
    if len(data) < 12:
        return None
    (query_id, flags) = struct.unpack("!HH", data[:4])
    if flags & 0x8000:  # never answer a response: that is how reflection loops start
        return None
    opcode = (flags >> 11) & 0xF
    rd = (flags >> 8) & 0x1
    reply_flags = 0x8000 | (opcode << 11) | (rd << 8) | 0x0080 | (rcode & 0xF)
    return struct.pack("!HHHHHH", query_id, reply_flags, 0, 0, 0, 0)


def _opt(query: DNSRecord):
    return next((rr for rr in query.ar if rr.rtype == QTYPE.OPT), None)


def reply_to(query: DNSRecord, *, rcode: int = RCODE.NOERROR, authoritative: bool = False) -> DNSRecord:
    """An empty reply to ``query`` that echoes its question, RD bit and EDNS."""
    reply = DNSRecord(
        DNSHeader(
            id=query.header.id,
            qr=1,
            opcode=query.header.opcode,
            aa=int(authoritative),
            rd=query.header.rd,
            ra=1,
            rcode=rcode,
        ),
        q=query.q,
    )
    if _opt(query) is not None:
        reply.add_ar(EDNS0(udp_len=OUR_UDP_SIZE))
    return reply


def servfail(query: DNSRecord) -> DNSRecord:
    return reply_to(query, rcode=RCODE.SERVFAIL)


def client_udp_size(query: DNSRecord) -> int:
    """How large a UDP answer the client accepts (RFC 6891), within what we are willing to send."""
    opt = _opt(query)
    if opt is None:
        return CLASSIC_UDP_SIZE
    return max(CLASSIC_UDP_SIZE, min(opt.rclass, OUR_UDP_SIZE))


def pack_for_udp(response: DNSRecord, limit: int) -> bytes:
    """Pack ``response``; if it does not fit in ``limit`` bytes, send it truncated (TC) so the client retries over TCP."""
    data = response.pack()
    if len(data) <= limit:
        return data
    truncated = DNSRecord(response.header, q=response.q)
    truncated.header.tc = 1
    for rr in response.ar:
        if rr.rtype == QTYPE.OPT:
            truncated.add_ar(rr)
    return truncated.pack()


def with_id(data: bytes, query_id: int) -> bytes:
    return struct.pack("!H", query_id) + data[2:]


# Extended DNS Errors (RFC 8914): EDNS option 15, a 2-byte info code and UTF-8 text.
EDE_OPTION = 15
EDE_STALE_ANSWER = 3
EDE_NO_REACHABLE_AUTHORITY = 22


def add_extended_errors(reply: DNSRecord, errors: list[tuple[int, str]]) -> None:
    """Attach EDE options to ``reply``'s OPT record; a reply without EDNS gets none (RFC 8914 needs EDNS)."""
    opt = _opt(reply)
    if opt is None:
        return
    for code, text in errors:
        opt.rdata.append(EDNSOption(EDE_OPTION, struct.pack("!H", code) + text.encode("utf-8")))


def question_end(data: bytes) -> int | None:
    """Offset just past the question of a query, found without parsing the whole packet.

    None when the packet is not a plain query with one uncompressed question: the
    caller then takes the full parse.
    """
    size = len(data)
    if size < 17 or data[2] & 0x80 or data[4:6] != b"\x00\x01":
        return None
    offset = 12
    while True:
        if offset >= size:
            return None
        length = data[offset]
        if length == 0:
            offset += 1
            break
        if length > 63:
            return None
        offset += 1 + length
    end = offset + 4
    return end if end <= size else None


def replay(answer: bytes, query: bytes, question_end: int) -> bytes:
    """A stored answer sent again: the new query's ID and its question (with its letter case, RFC 7766/0x20)."""
    return query[:2] + answer[2:12] + query[12:question_end] + answer[question_end:]
