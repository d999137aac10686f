"""A bounded cache of upstream answers that can serve them stale (RFC 8767).

An answer is fresh for its smallest TTL (negative answers: the SOA's, RFC 2308),
then stale for up to ``max_stale`` seconds: kept, so that an outage does not empty
the cache, and served only when no upstream answers. Least recently used answers
go first when the cache is full.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from dnslib import QTYPE, RCODE, RR, DNSRecord

from .config import Cache, ServeStale

CacheKey = tuple[str, int, int]


def cache_key(question: DNSRecord) -> CacheKey:
    q = question.q
    return (str(q.qname).lower(), q.qtype, q.qclass)


@dataclass
class Entry:
    answer: DNSRecord
    stored: float
    ttl: int
    hits: int = 0
    prefetching: bool = False
    evicted: bool = False

    @property
    def expires(self) -> float:
        return self.stored + self.ttl

    def fresh(self, now: float) -> bool:
        return now < self.expires

    def records(self, now: float, stale_ttl: int | None = None) -> tuple[list[RR], list[RR], list[RR]]:
        """Answer, authority and additional records with TTLs counted down (or set to the stale TTL)."""
        age = int(now - self.stored)

        def aged(rrs: list[RR]) -> list[RR]:
            return [
                RR(
                    rr.rname,
                    rr.rtype,
                    rr.rclass,
                    stale_ttl if stale_ttl is not None else max(0, rr.ttl - age),
                    rr.rdata,
                )
                for rr in rrs
                if rr.rtype != QTYPE.OPT
            ]

        return aged(self.answer.rr), aged(self.answer.auth), aged(self.answer.ar)


class AnswerCache:
    def __init__(self, config: Cache, stale: ServeStale, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.stale = stale
        self._clock = clock
        self._entries: OrderedDict[CacheKey, Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: CacheKey) -> Entry | None:
        """The entry, fresh or still servable stale; None when absent or too old."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if not entry.fresh(self._clock()) and not self.servable_stale(entry):
            del self._entries[key]
            entry.evicted = True
            return None
        self._entries.move_to_end(key)
        return entry

    def servable_stale(self, entry: Entry) -> bool:
        return self.stale.enabled and self._clock() < entry.expires + self.stale.max_stale

    def put(self, key: CacheKey, answer: DNSRecord) -> Entry | None:
        """Store an upstream answer if it may be cached (NOERROR or NXDOMAIN, not truncated)."""
        ttl = self.ttl_of(answer)
        if ttl is None:
            return None
        old = self._entries.get(key)
        entry = Entry(answer, self._clock(), ttl, hits=old.hits if old else 0)
        self._entries[key] = entry
        self._entries.move_to_end(key)
        if old is not None:
            old.evicted = True
        while len(self._entries) > self.config.max_entries:
            self._entries.popitem(last=False)[1].evicted = True
        return entry

    def ttl_of(self, answer: DNSRecord) -> int | None:
        header = answer.header
        if header.tc or header.rcode not in (RCODE.NOERROR, RCODE.NXDOMAIN):
            return None
        c = self.config
        if answer.rr and header.rcode == RCODE.NOERROR:
            return max(c.min_ttl, min(c.max_ttl, min(rr.ttl for rr in answer.rr)))
        # Negative (NXDOMAIN or NODATA): the SOA's TTL, capped by its MINIMUM (RFC 2308).
        soas = [rr for rr in answer.auth if rr.rtype == QTYPE.SOA]
        if not soas:
            return None  # a negative answer without SOA is not cached (RFC 2308 section 5)
        soa = soas[0]
        return max(c.min_ttl, min(c.max_negative_ttl, soa.ttl, soa.rdata.times[-1]))

    def wants_prefetch(self, entry: Entry) -> bool:
        """A popular entry in the last tenth of its life, not already being refreshed."""
        if not self.config.prefetch or entry.prefetching or entry.hits < 2 or entry.ttl < 2:
            return False
        return self._clock() >= entry.expires - entry.ttl / 10
