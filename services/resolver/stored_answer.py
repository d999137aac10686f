"""A cached answer kept as wire bytes, and replies made from it by patching bytes, never by parsing.

An upstream answer is packed once, with the question as the cache key spells it (lower
case), into one ``bytes``: a small head (rcode, section counts, where each TTL is), then
the records exactly as they follow the question on the wire. A reply is the client's
header and question (its ID, RD bit and letter case) followed by those records, their
TTLs counted down (or set to the stale TTL) in place. The client's question has the same
length as the key's, so the records' compression pointers still point where they should.

One ``bytes`` object per answer, instead of a tree of parsed records, is what keeps the
cache small and out of the garbage collector's way: bytes are never tracked by it.
"""

from __future__ import annotations

import struct

from dnslib import QTYPE, DNSBuffer, DNSLabel, DNSQuestion, DNSRecord

# rcode, answer / authority / additional counts, number of TTL fields
_HEAD = struct.Struct("!BHHHH")
_TTL = struct.Struct("!I")
_RECORD = struct.Struct("!HHIH")  # type, class, TTL, rdata length
_COUNTS = struct.Struct("!HHHH")
# What the island sends in its replies' OPT record (services.dns.wire.reply_to): UDP size 1232, no options.
OPT_RECORD = b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00"
OPT_TYPE = b"\x00\x29"
CLASSIC_UDP_SIZE = 512
OUR_UDP_SIZE = 1232


def key_of(question: DNSQuestion) -> bytes:
    """The cache key of a parsed question: its name on the wire in lower case, type and class."""
    name = b"".join(bytes([len(label)]) + label.lower() for label in question.qname.label)
    return name + b"\x00" + struct.pack("!HH", question.qtype, question.qclass)


def pack(answer: DNSRecord, key: bytes) -> bytes:
    """``answer``'s rcode and records (OPT left out) in the compact form."""
    records = [rr for rr in answer.ar if rr.rtype != QTYPE.OPT]
    # Packed after 12 bytes where a header would be and the key's question, so that the
    # compression pointers are the offsets they will have in every reply.
    buffer = DNSBuffer(bytes(12))
    buffer.offset = 12
    buffer.encode_name(DNSLabel(_labels(key)))
    buffer.append(key[-4:])
    start = 12 + len(key)
    if buffer.data[12:start] != key:
        raise ValueError("the packed question is not the key")  # a name dnslib spells differently
    for rr in (*answer.rr, *answer.auth, *records):
        rr.pack(buffer)
    message = bytes(buffer.data)
    counts = (len(answer.rr), len(answer.auth), len(records))
    offsets = _ttl_offsets(message, start, sum(counts))
    head = _HEAD.pack(answer.header.rcode, *counts, len(offsets))
    return head + struct.pack(f"!{len(offsets)}H", *offsets) + message[start:]


def from_message(message: bytes, question_end: int) -> tuple[bytes, int | None, bool] | None:
    """An upstream's answer in the compact form, without parsing it into records: what ``pack`` makes of
    it parsed, but its records kept as the upstream wrote them.

    Its one question ends at ``question_end`` and is as long as the key, so its compression pointers
    already point where they will in every reply; its OPT record is cut off the end. Returns (stored,
    ttl, negative): ttl is the smallest answer TTL of a positive answer, the SOA's TTL capped by its
    MINIMUM for a negative one (RFC 2308), None for a negative one without SOA. None for anything else
    than a plain NOERROR or NXDOMAIN answer walked to its last byte (the caller parses that one).
    """
    size = len(message)
    if (
        size < question_end
        or message[4:6] != b"\x00\x01"
        or message[2] & 0x02
        or message[3] & 0x0F not in (0, 3)
    ):
        return None
    rcode = message[3] & 0x0F
    answers, authority, additional = struct.unpack_from("!HHH", message, 6)
    negative = rcode != 0 or not answers
    offsets: list[int] = []
    ttl: int | None = None
    opt_at = None
    offset = question_end
    total = answers + authority + additional
    try:
        for index in range(total):
            record_at = offset
            offset = _past_owner(message, offset)
            rtype, _, record_ttl, length = _RECORD.unpack_from(message, offset)
            offset += 10 + length
            if offset > size:
                return None
            if rtype == QTYPE.OPT:
                if index != total - 1 or index < answers + authority or record_ttl >> 24:
                    return None  # an OPT anywhere but last, or an extended rcode: parsed instead
                opt_at = record_at
                continue
            offsets.append(offset - length - 6 - question_end)
            if index < answers and not negative:
                ttl = record_ttl if ttl is None else min(ttl, record_ttl)
            elif answers <= index < answers + authority and negative and rtype == QTYPE.SOA and ttl is None:
                if length < 22:
                    return None
                (minimum,) = _TTL.unpack_from(message, offset - 4)
                ttl = min(record_ttl, minimum)
    except (IndexError, struct.error, ValueError):
        return None
    if offset != size:
        return None
    end = size
    if opt_at is not None:
        if struct.pack("!H", 0xC000 | opt_at) in message[question_end:opt_at]:
            return None  # a name may point into the OPT record cut off: parsed instead
        end = opt_at
    head = _HEAD.pack(rcode, answers, authority, additional - (opt_at is not None), len(offsets))
    return head + struct.pack(f"!{len(offsets)}H", *offsets) + message[question_end:end], ttl, negative


def reply(
    stored: bytes, header: bytes, question: bytes, age: int, stale_ttl: int | None, opt: bool, limit: int
) -> bytes:
    """The reply to a query whose first two bytes (ID) and flags are ``header`` and whose question is ``question``.

    TTLs are counted down by ``age`` seconds (never below 0), or all set to ``stale_ttl``.
    Larger than ``limit``: header and question only, with TC, so the client retries over TCP.
    """
    rcode, answers, authority, additional, ttls = _HEAD.unpack_from(stored)
    records_at = _HEAD.size + 2 * ttls
    flags = struct.pack("!BB", 0x80 | (header[2] & 0x01), 0x80 | rcode)  # QR, RD echoed, RA
    size = 12 + len(question) + len(stored) - records_at + (len(OPT_RECORD) if opt else 0)
    if size > limit:
        truncated = struct.pack("!BB", flags[0] | 0x02, flags[1])
        return (
            header[:2] + truncated + _COUNTS.pack(1, 0, 0, int(opt)) + question + (OPT_RECORD if opt else b"")
        )
    out = bytearray(header[:2])
    out += flags
    out += _COUNTS.pack(1, answers, authority, additional + int(opt))
    out += question
    base = len(out)
    out += memoryview(stored)[records_at:]
    if opt:
        out += OPT_RECORD
    if stale_ttl is not None or age > 0:
        for (offset,) in struct.iter_unpack("!H", memoryview(stored)[_HEAD.size : records_at]):
            at = base + offset
            if stale_ttl is not None:
                _TTL.pack_into(out, at, stale_ttl)
            else:
                (ttl,) = _TTL.unpack_from(out, at)
                _TTL.pack_into(out, at, max(0, ttl - age))
    return bytes(out)


def query_shape(data: bytes, question_end: int) -> int | None:
    """The UDP size a plain query accepts (0 without EDNS), or None when it is not a plain query.

    Plain: opcode QUERY, one question (checked by the caller), no answer or authority
    records, and nothing in the additional section but one OPT record of EDNS version 0.
    Anything else takes the full path, which parses it (or refuses it: BADVERS, FORMERR).
    """
    if data[2] & 0x78 or data[6:10] != b"\x00\x00\x00\x00":
        return None
    additional = data[10:12]
    if additional == b"\x00\x00":
        return 0 if len(data) == question_end else None
    end = question_end
    if (
        additional != b"\x00\x01"
        or len(data) < end + 11
        or data[end] != 0
        or data[end + 1 : end + 3] != OPT_TYPE
        or data[end + 6] != 0  # the EDNS version
    ):
        return None
    size: int = struct.unpack_from("!H", data, end + 3)[0]
    length: int = struct.unpack_from("!H", data, end + 9)[0]
    if end + 11 + length != len(data):
        return None
    return max(CLASSIC_UDP_SIZE, min(size, OUR_UDP_SIZE))


def _labels(key: bytes) -> list[bytes]:
    labels = []
    offset = 0
    while key[offset]:
        length = key[offset]
        labels.append(key[offset + 1 : offset + 1 + length])
        offset += 1 + length
    return labels


def _ttl_offsets(message: bytes, start: int, count: int) -> list[int]:
    """Where each record's TTL is, counted from ``start`` (the end of the question)."""
    offsets = []
    offset = start
    for _ in range(count):
        offset = _past_name(message, offset)
        offsets.append(offset + 4 - start)  # after type and class
        (length,) = struct.unpack_from("!H", message, offset + 8)
        offset += 10 + length
    if offset != len(message):
        raise ValueError("records do not end where the message does")
    return offsets


def _past_owner(message: bytes, offset: int) -> int:
    """Past a record's owner name at ``offset``, every label within the message; a pointer must point
    back (a name may only repeat what came before it). ValueError otherwise."""
    start = offset
    while True:
        length = message[offset]
        if length & 0xC0 == 0xC0:
            if not 12 <= ((length & 0x3F) << 8 | message[offset + 1]) < start:
                raise ValueError("a compression pointer that does not point back")
            return offset + 2
        if length & 0xC0:
            raise ValueError("an unknown label type")
        if length == 0:
            return offset + 1
        offset += 1 + length
        if offset >= len(message):
            raise ValueError("a name past the end")


def _past_name(message: bytes, offset: int) -> int:
    while True:
        length = message[offset]
        if length & 0xC0 == 0xC0:
            return offset + 2  # a compression pointer ends the name
        if length == 0:
            return offset + 1
        offset += 1 + length


def name_of(key: bytes) -> str:
    """A cache key's name as text, for log lines."""
    return ".".join(label.decode("ascii", "backslashreplace") for label in _labels(key)) + "."
