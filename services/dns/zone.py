"""Zone data in BIND zone-file syntax and authoritative lookup in it.

Used for the island resolver's local zones and for the simulated upstream's
authoritative zones: the same rules for data, NODATA and NXDOMAIN in both.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from dnslib import QTYPE, RCODE, RR, SOA, DNSLabel

# What Unbound synthesises for a local zone given without an SOA.
_DEFAULT_SOA = "{origin} 3600 IN SOA localhost. nobody.invalid. 1 3600 1200 604800 10"


class ZoneError(ValueError):
    """Zone text that cannot be used; the message names the zone and the problem."""


@dataclass(frozen=True)
class Lookup:
    rcode: int
    answer: list[RR] = field(default_factory=list)
    authority: list[RR] = field(default_factory=list)


class Zone:
    """One zone's records, answered as an authoritative server would."""

    def __init__(self, origin: str, records: list[RR]) -> None:
        self.origin = DNSLabel(origin)
        self._names: dict[DNSLabel, list[RR]] = defaultdict(list)
        for rr in records:
            if not rr.rname.matchSuffix(self.origin):
                raise ZoneError(f"zone {self.origin}: record {rr.rname} is outside the zone")
            self._names[rr.rname].append(rr)
        soas = [rr for rr in self._names.get(self.origin, []) if rr.rtype == QTYPE.SOA]
        if not soas:
            soa = RR.fromZone(_DEFAULT_SOA.format(origin=self.origin))[0]
            self._names[self.origin].append(soa)
            soas = [soa]
        self.soa: RR = soas[0]

    @classmethod
    def from_text(cls, origin: str, text: str, default_ttl: int = 300) -> Zone:
        origin_label = str(DNSLabel(origin))
        source = f"$ORIGIN {origin_label}\n$TTL {default_ttl}\n{text}"
        try:
            records = RR.fromZone(source)
        except Exception as exc:  # dnslib raises a variety of errors for bad zone text
            raise ZoneError(f"zone {origin_label}: cannot parse zone data: {exc}") from exc
        return cls(origin_label, records)

    def names(self) -> list[DNSLabel]:
        """The names that have records in the zone."""
        return list(self._names)

    def contains(self, qname: DNSLabel) -> bool:
        return bool(qname.matchSuffix(self.origin))

    def negative_soa(self) -> RR:
        # RFC 2308: the negative TTL is the smaller of the SOA's TTL and its MINIMUM field.
        rdata: SOA = self.soa.rdata
        ttl = min(self.soa.ttl, rdata.times[-1])
        return RR(self.soa.rname, QTYPE.SOA, rdata=rdata, ttl=ttl)

    def lookup(self, qname: DNSLabel, qtype: int, _seen: frozenset[DNSLabel] = frozenset()) -> Lookup:
        qname = DNSLabel(qname)
        rrs = self._names.get(qname)
        if rrs is None:
            if any(name.matchSuffix(qname) for name in self._names):
                # An empty non-terminal: the name exists, it just has no data.
                return Lookup(RCODE.NOERROR, authority=[self.negative_soa()])
            return Lookup(RCODE.NXDOMAIN, authority=[self.negative_soa()])
        matching = [rr for rr in rrs if qtype in (rr.rtype, QTYPE.ANY)]
        if matching:
            return Lookup(RCODE.NOERROR, answer=matching)
        cnames = [rr for rr in rrs if rr.rtype == QTYPE.CNAME]
        if cnames:
            target = cnames[0].rdata.label
            seen = _seen | {qname}
            # A CNAME loop ends the chain where it repeats, as resolvers do.
            if self.contains(target) and target not in seen:
                followed = self.lookup(target, qtype, seen)
                return Lookup(followed.rcode, answer=cnames + followed.answer, authority=followed.authority)
            return Lookup(RCODE.NOERROR, answer=cnames)
        return Lookup(RCODE.NOERROR, authority=[self.negative_soa()])


class Zones:
    """A set of zones; a name belongs to the most specific zone that contains it."""

    def __init__(self, zones: list[Zone] | None = None) -> None:
        self._zones = sorted(zones or [], key=lambda z: len(z.origin.label), reverse=True)

    def find(self, qname: DNSLabel) -> Zone | None:
        return next((z for z in self._zones if z.contains(qname)), None)

    def __iter__(self) -> Iterator[Zone]:
        return iter(self._zones)

    def __len__(self) -> int:
        return len(self._zones)
