"""Names the island's own static zones do not have, answered from the query's bytes: NXDOMAIN or NODATA.

A made-up name under the crisis name (``x7f3a.krisinfo.kommun.example``) can only get a
negative answer, and it is always the same one: the question echoed, then the zone's SOA
(RFC 2308). Building it by hand costs a few microseconds; the full path (a task, a parse,
a zone lookup, a pack) cost a hundred times that, so a flood of such names made the
resolver's socket, where residents' crisis-name queries wait, fill up behind it.

Names with data are left to the replays (their answers are learned once, then replayed);
a name with no data of its own but names below it (an empty non-terminal) gets NODATA, as
services.dns.zone.Zone.lookup answers. Only static zones: a transparent zone's missing names
are forwarded upstream, and the most specific zone decides, as in services.dns.zone.Zones.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from dnslib import QTYPE, RCODE, SOA, DNSLabel

from services.dns import Zone

from .stored_answer import OPT_RECORD


def wire_name(name: DNSLabel, *, lower: bool = True) -> bytes:
    """``name`` in wire format, uncompressed, in lower case unless told otherwise."""
    labels = [label.lower() if lower else label for label in name.label]
    return b"".join(bytes([len(label)]) + label for label in labels) + b"\x00"


@dataclass(frozen=True)
class _Static:
    names: frozenset[bytes]  # names with data, wire format, lower case
    non_terminals: frozenset[bytes]  # names with none of their own but names below them
    soa: bytes  # the negative SOA record, its owner (the origin) spelt as the zone spells it


class OwnZoneNegatives:
    def __init__(self, zones: list[tuple[Zone, bool]]) -> None:
        """``zones``: every local zone with whether it is static. A transparent one maps to None."""
        self._zones: dict[bytes, _Static | None] = {}
        for zone, static in zones:
            origin = wire_name(zone.origin)
            self._zones[origin] = _static(zone, origin) if static else None

    def answer(self, data: bytes, question_end: int, opt: bool) -> bytes | None:
        """The negative answer to a plain query for a missing name in a static zone, else None.

        ``data`` is a plain query (services.resolver.stored_answer.query_shape) whose question
        ends at ``question_end``; ``opt``: whether it carries EDNS. The ID is the query's.
        """
        name = data[12 : question_end - 4].lower()
        zone = self._zones.get(self._origin_of(name))
        if zone is None or name in zone.names:
            return None
        rcode = RCODE.NOERROR if name in zone.non_terminals else RCODE.NXDOMAIN
        # QR, AA, RD echoed; RA and the rcode. One question, one SOA, the OPT when asked with EDNS.
        flags = bytes((0x84 | (data[2] & 0x01), 0x80 | rcode))
        counts = _COUNTS[opt]
        reply = data[:2] + flags + counts + data[12:question_end] + zone.soa
        return reply + OPT_RECORD if opt else reply

    def covers(self, name: bytes) -> bool:
        """Whether ``name`` (wire format, lower case) is in a local zone, static or transparent."""
        return self._origin_of(name) in self._zones

    def _origin_of(self, name: bytes) -> bytes:
        """The origin of the most specific local zone holding ``name`` (as Zones.find), or the root."""
        zones = self._zones
        at = 0
        while name[at] and name[at:] not in zones:
            at += 1 + name[at]
        return name[at:]


_COUNTS = {False: struct.pack("!HHHH", 1, 0, 1, 0), True: struct.pack("!HHHH", 1, 0, 1, 1)}


def _static(zone: Zone, origin: bytes) -> _Static:
    names = {wire_name(name) for name in zone.names()}
    non_terminals = set()
    for name in names:
        at = 0
        while name[at:] != origin:
            at += 1 + name[at]
            non_terminals.add(name[at:])
    soa = zone.negative_soa()
    rdata: SOA = soa.rdata
    packed = (
        wire_name(rdata.mname, lower=False)
        + wire_name(rdata.rname, lower=False)
        + struct.pack("!5I", *rdata.times)
    )
    fixed = struct.pack("!HHIH", QTYPE.SOA, 1, soa.ttl, len(packed))
    owner = wire_name(zone.origin, lower=False)
    return _Static(frozenset(names), frozenset(non_terminals - names), owner + fixed + packed)
