"""A bounded cache of upstream answers that can serve them stale (RFC 8767).

An answer is fresh for its smallest TTL (negative answers: the SOA's, RFC 2308),
then stale for up to ``max_stale`` seconds: kept, so that an outage does not empty
the cache, and served only when no upstream answers.

Built to cost little at any size: each answer lives in a numbered slot (its wire bytes,
from ``stored_answer``, in a dict by slot; when stored, its TTL and a few flags in arrays
indexed by slot), found through one dict from key bytes to slot. The garbage collector
never looks at bytes, numbers or arrays, nor at a dict holding only those, so a full
collection walks nothing of the cache: 100,000 answers do not make the resolver pause.
(A list would not do: the collector walks every item of a list, about a microsecond each
on a busy machine, 100 ms for 100,000.) When
full, the CLOCK hand (second chance) picks the answer to replace: answers asked again since
the hand last passed are skipped once, answers asked only once go first, so a resident
asking random names pushes out other random names before anything popular. The hand looks
at no more than ``_SWEEP`` slots per new answer: eviction is O(1).
"""

from __future__ import annotations

import time
from array import array
from collections.abc import Callable

from dnslib import QTYPE, RCODE, DNSRecord

from services.dns.wire import parse_response

from . import stored_answer
from .config import Cache, ServeStale

# Most slots the CLOCK hand passes over (clearing their second chance) before it evicts anyway.
_SWEEP = 32
_MAX_HITS = 255  # hits are only compared with 2: a byte each is plenty


class AnswerCache:
    def __init__(self, config: Cache, stale: ServeStale, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.stale = stale
        self._clock = clock
        self._index: dict[bytes, int] = {}  # key -> slot; bytes and ints only, so never tracked by gc
        self._keys: dict[int, bytes] = {}  # slot -> key, to evict
        self._answers: dict[int, bytes] = {}
        self._stored = array("d")  # time.monotonic() when stored
        self._ttls = array("q")
        self._hits = bytearray()
        self._asked_again = bytearray()  # CLOCK's second chance: asked since the hand last passed
        self._prefetching = bytearray()
        self._free: list[int] = []
        self._hand = 0

    def __len__(self) -> int:
        return len(self._index)

    # Reading ------------------------------------------------------------------------------------
    def fresh_slot(self, key: bytes, *, asked: bool = True) -> int | None:
        """The slot of a fresh answer for ``key`` (the fast path's question), or None. ``asked``: a
        client asked it again (False for the answer to the very query that brought it: not popular yet)."""
        slot = self._index.get(key)
        if slot is None or self._clock() >= self._stored[slot] + self._ttls[slot]:
            return None
        if asked:
            self._asked_again[slot] = 1
        return slot

    def lookup(self, key: bytes) -> int | None:
        """The slot of an answer for ``key``, fresh or still servable stale; None when absent or too old."""
        slot = self._index.get(key)
        if slot is None:
            return None
        if not self.fresh(slot) and not self.servable_stale(slot):
            self._remove(key, slot)
            return None
        self._asked_again[slot] = 1
        return slot

    def fresh(self, slot: int) -> bool:
        return self._clock() < self._stored[slot] + self._ttls[slot]

    def servable_stale(self, slot: int) -> bool:
        expires = self._stored[slot] + self._ttls[slot]
        return self.stale.enabled and self._clock() < expires + self.stale.max_stale

    def reply(
        self, slot: int, header: bytes, question: bytes, *, stale: bool, opt: bool, limit: int
    ) -> bytes:
        """The answer in ``slot`` as a reply to a query with this header and question (see stored_answer.reply)."""
        age = int(self._clock() - self._stored[slot])
        stale_ttl = self.stale.reply_ttl if stale else None
        return stored_answer.reply(self._answers[slot], header, question, age, stale_ttl, opt, limit)

    # Prefetch -----------------------------------------------------------------------------------
    def hit(self, slot: int) -> bool:
        """Count a hit; True when the answer is popular, in the last tenth of its life and not being refreshed."""
        hits = self._hits[slot]
        if hits < _MAX_HITS:
            self._hits[slot] = hits = hits + 1
        ttl = self._ttls[slot]
        if not self.config.prefetch or self._prefetching[slot] or hits < 2 or ttl < 2:
            return False
        return self._clock() >= self._stored[slot] + ttl - ttl / 10

    def prefetching(self, slot: int) -> None:
        """A refresh of the answer in ``slot`` is under way: no other one until it is over."""
        self._prefetching[slot] = 1

    def refreshed(self, key: bytes) -> None:
        """The refresh of ``key`` is over (answered or not): it may be prefetched again."""
        slot = self._index.get(key)
        if slot is not None:
            self._prefetching[slot] = 0

    # Writing ------------------------------------------------------------------------------------
    def put_message(self, key: bytes, message: bytes) -> bool:
        """Store an upstream answer as it came (its records' bytes kept, never parsed into records) if it
        may be cached; one in an unusual shape is parsed and stored as ``put`` does (MalformedPacket)."""
        digest = stored_answer.from_message(message, 12 + len(key))
        if digest is None:
            return self.put(key, parse_response(message))
        packed, ttl, negative = digest
        if ttl is None:
            return False  # a negative answer without SOA is not cached (RFC 2308 section 5)
        self._store(key, packed, self._bounded(ttl, negative=negative))
        return True

    def put(self, key: bytes, answer: DNSRecord) -> bool:
        """Store an upstream answer if it may be cached (NOERROR or NXDOMAIN, not truncated)."""
        ttl = self.ttl_of(answer)
        if ttl is None:
            return False
        try:
            packed = stored_answer.pack(answer, key)
        except ValueError:
            return False  # dnslib packs it unlike the wire it came from: forwarded, just not cached
        self._store(key, packed, ttl)
        return True

    def _store(self, key: bytes, packed: bytes, ttl: int) -> None:
        slot = self._index.get(key)
        if slot is None:
            slot = self._free_slot()
            self._index[key] = slot
            self._keys[slot] = key
            self._hits[slot] = 0
            self._asked_again[slot] = 0
        self._answers[slot] = packed
        self._stored[slot] = self._clock()
        self._ttls[slot] = ttl
        self._prefetching[slot] = 0

    def ttl_of(self, answer: DNSRecord) -> int | None:
        header = answer.header
        if header.tc or header.rcode not in (RCODE.NOERROR, RCODE.NXDOMAIN):
            return None
        if answer.rr and header.rcode == RCODE.NOERROR:
            return self._bounded(min(rr.ttl for rr in answer.rr), negative=False)
        # Negative (NXDOMAIN or NODATA): the SOA's TTL, capped by its MINIMUM (RFC 2308).
        soas = [rr for rr in answer.auth if rr.rtype == QTYPE.SOA]
        if not soas:
            return None  # a negative answer without SOA is not cached (RFC 2308 section 5)
        soa = soas[0]
        return self._bounded(min(soa.ttl, soa.rdata.times[-1]), negative=True)

    def _bounded(self, ttl: int, *, negative: bool) -> int:
        c = self.config
        return int(max(c.min_ttl, min(c.max_negative_ttl if negative else c.max_ttl, ttl)))

    def _free_slot(self) -> int:
        if self._free:
            return self._free.pop()
        slot = len(self._stored)
        if slot < self.config.max_entries:
            self._stored.append(0.0)
            self._ttls.append(0)
            self._hits.append(0)
            self._asked_again.append(0)
            self._prefetching.append(0)
            return slot
        return self._evict()

    def _evict(self) -> int:
        """CLOCK: the first slot under the hand not asked again since it last passed (or the _SWEEP-th)."""
        asked_again, size = self._asked_again, len(self._stored)
        hand = self._hand
        for _ in range(_SWEEP):
            if not asked_again[hand]:
                break
            asked_again[hand] = 0
            hand = (hand + 1) % size
        self._hand = (hand + 1) % size
        del self._index[self._keys[hand]]
        return hand

    def _remove(self, key: bytes, slot: int) -> None:
        del self._index[key]
        del self._keys[slot]
        del self._answers[slot]
        self._free.append(slot)
