"""Parsing and building DNS messages. No policy: what to answer is decided elsewhere."""

from __future__ import annotations

import struct
from typing import cast

from dnslib import EDNS0, OPCODE, QTYPE, RCODE, RR, DNSError, DNSHeader, DNSRecord, EDNSOption

CLASSIC_UDP_SIZE = 512
BADVERS = 16  # extended rcode (RFC 6891): 4 bits in the header, the rest in the OPT record
# What we advertise and the most we send over UDP (DNS Flag Day 2020 value).
OUR_UDP_SIZE = 1232


class MalformedPacket(ValueError):
    """A packet we cannot treat as a query. ``rcode`` is what to answer, if anything."""

    def __init__(self, reason: str, rcode: int = RCODE.FORMERR) -> None:
        super().__init__(reason)
        self.rcode = rcode


class BadEDNSVersion(MalformedPacket):
    """EDNS version above 0: answered BADVERS (RFC 6891 6.1.3), with the question and our OPT."""

    def __init__(self, version: int, question_end: int) -> None:
        super().__init__(f"EDNS version {version}, we speak 0", BADVERS)
        self.question_end = question_end


def parse_query(data: bytes) -> DNSRecord:
    """Parse a client's query, refusing anything a resolver should not process.

    The header, the question and the OPT record are checked by hand first, so that a
    packet claiming 65,535 questions or thousands of records costs microseconds: dnslib
    only ever parses a query with one question and at most one additional record.
    """
    precheck_query(data)
    try:
        return DNSRecord.parse(data)
    except (DNSError, ValueError, IndexError, struct.error, UnicodeError) as exc:
        raise MalformedPacket(f"unparseable packet: {exc}") from exc


# What a query may carry (Unbound's worker_check_request): one question, no answer or
# authority records, and at most one additional record (the OPT).
_HEADER = struct.Struct("!HHHHHH")
_RR_FIXED = struct.Struct("!HHBBHH")  # type, class, TTL as extended rcode, version, flags; rdlength
MAX_NAME_OCTETS = 255


def precheck_query(data: bytes) -> None:
    """Refuse, without parsing the packet, anything but a query with exactly one well-formed question."""
    if len(data) < 12:
        raise MalformedPacket("shorter than a header")
    _, flags, questions, answers, authorities, additionals = _HEADER.unpack_from(data)
    if flags & 0x8000:
        raise MalformedPacket("a response, not a query")
    opcode = (flags >> 11) & 0xF
    if opcode != OPCODE.QUERY:
        raise MalformedPacket(f"opcode {opcode} not implemented", RCODE.NOTIMP)
    if questions != 1:
        raise MalformedPacket(f"{questions} questions, expected 1")
    if answers or authorities:
        raise MalformedPacket(f"a query with {answers} answer and {authorities} authority records")
    if additionals > 1:
        raise MalformedPacket(f"{additionals} additional records, at most one OPT expected")
    end = _name_end(data, 12, pointers=False) + 4
    if end > len(data):
        raise MalformedPacket("question runs past the end")
    if additionals:
        _check_additional(data, end)


def _check_additional(data: bytes, start: int) -> None:
    owner_end = _name_end(data, start, pointers=True)
    if owner_end + _RR_FIXED.size > len(data):
        raise MalformedPacket("additional record runs past the end")
    rtype, _, _, version, _, _ = _RR_FIXED.unpack_from(data, owner_end)
    if rtype != QTYPE.OPT:
        return
    if data[start] != 0:
        raise MalformedPacket("OPT record not owned by the root")
    if version > 0:
        raise BadEDNSVersion(version, start)


def _name_end(data: bytes, offset: int, *, pointers: bool) -> int:
    """Offset just past the name at ``offset``, walked label by label within bounds.

    A question's name cannot be compressed (nothing precedes it to point at); a later
    name may end in one pointer, which is not followed here.
    """
    size, octets = len(data), 0
    while True:
        if offset >= size:
            raise MalformedPacket("name runs past the end")
        length = data[offset]
        if length == 0:
            octets += 1
            offset += 1
            break
        if length & 0xC0 == 0xC0:
            if not pointers:
                raise MalformedPacket("compression pointer in the question")
            return offset + 2
        if length > 63:
            raise MalformedPacket(f"label type {length >> 6} not supported")
        octets += 1 + length
        offset += 1 + length
        if octets > MAX_NAME_OCTETS:
            raise MalformedPacket(f"name longer than {MAX_NAME_OCTETS} octets")
    if octets > MAX_NAME_OCTETS:
        raise MalformedPacket(f"name longer than {MAX_NAME_OCTETS} octets")
    return offset


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


def refusal_bytes(data: bytes, refusal: MalformedPacket) -> bytes | None:
    """The answer to a packet ``parse_query`` refused: header only, or BADVERS with question and OPT."""
    if not isinstance(refusal, BadEDNSVersion):
        return error_reply_bytes(data, refusal.rcode)
    header = error_reply_bytes(data, refusal.rcode)
    if header is None:
        return None
    # The extended rcode's upper eight bits go in the OPT's TTL; we speak version 0.
    opt = b"\x00" + _RR_FIXED.pack(QTYPE.OPT, OUR_UDP_SIZE, refusal.rcode >> 4, 0, 0, 0)
    return header[:4] + struct.pack("!HHHH", 1, 0, 0, 1) + data[12 : refusal.question_end] + opt


def _opt(query: DNSRecord) -> RR | None:
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
    return max(CLASSIC_UDP_SIZE, min(cast(int, opt.rclass), OUR_UDP_SIZE))  # dnslib is untyped


def pack_for_udp(response: DNSRecord, limit: int) -> bytes:
    """Pack ``response``; if it does not fit in ``limit`` bytes, send it truncated (TC) so the client retries over TCP."""
    data = cast(bytes, response.pack())  # dnslib is untyped
    if len(data) <= limit:
        return data
    truncated = DNSRecord(response.header, q=response.q)
    truncated.header.tc = 1
    for rr in response.ar:
        if rr.rtype == QTYPE.OPT:
            truncated.add_ar(rr)
    return cast(bytes, truncated.pack())


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
