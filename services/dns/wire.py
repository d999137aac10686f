"""Parsing and building DNS messages. No policy: what to answer is decided elsewhere."""

from __future__ import annotations

import struct

from dnslib import EDNS0, OPCODE, QTYPE, RCODE, DNSError, DNSHeader, DNSRecord

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
