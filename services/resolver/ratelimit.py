"""Response-rate limiting per client prefix (against reflection and amplification).

A token bucket per prefix (/24 and /56 by default, as Unbound's ip-ratelimit and BIND's
RRL group clients). Over the limit a UDP query is dropped, except every ``slip``-th one,
which gets an empty truncated answer so a real client retries over TCP, where a
spoofed source cannot follow.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
from enum import Enum

from .config import RateLimit

_MAX_PREFIXES = 65536


class Verdict(Enum):
    ANSWER = "answer"
    DROP = "drop"
    SLIP = "slip"


_ANSWER = Verdict.ANSWER


class _Bucket:
    __slots__ = ("tokens", "stamp", "limited")

    def __init__(self, tokens: float, stamp: float) -> None:
        self.tokens = tokens
        self.stamp = stamp
        self.limited = 0


class RateLimiter:
    def __init__(self, config: RateLimit, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = config.responses_per_second
        self.burst = config.burst or config.responses_per_second
        self.slip = config.slip
        self._v4 = config.ipv4_prefix
        self._v6 = config.ipv6_prefix
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        # Per address (the default): the address is the key, no prefix to work out.
        self._whole_addresses = self._v4 == 32 and self._v6 == 128
        self._prefixes: dict[str, str] = {}

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def prefix(self, address: str) -> str:
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return address
        bits = self._v4 if ip.version == 4 else self._v6
        return str(ipaddress.ip_network(f"{ip}/{bits}", strict=False))

    def check(self, address: str) -> Verdict:
        """Runs for every UDP query while on: kept to one clock read, one dict lookup and a few floats."""
        if not self.enabled:
            return _ANSWER
        now = self._clock()
        key = address if self._whole_addresses else self._prefix_cached(address)
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= _MAX_PREFIXES:
                self._forget_full(now)
            bucket = self._buckets[key] = _Bucket(self.burst, now)
            tokens = self.burst
        else:
            tokens = bucket.tokens + (now - bucket.stamp) * self.rate
            if tokens > self.burst:
                tokens = self.burst
            bucket.stamp = now
        if tokens >= 1:
            bucket.tokens = tokens - 1
            return _ANSWER
        bucket.tokens = tokens
        bucket.limited += 1
        if self.slip and bucket.limited % self.slip == 0:
            return Verdict.SLIP
        return Verdict.DROP

    def _prefix_cached(self, address: str) -> str:
        # /32 (or /128) needs no arithmetic; other prefixes are computed once per address.
        if (self._v4 == 32 and ":" not in address) or (self._v6 == 128 and ":" in address):
            return address
        cache = self._prefixes
        key = cache.get(address)
        if key is None:
            if len(cache) >= _MAX_PREFIXES:
                cache.clear()
            key = cache[address] = self.prefix(address)
        return key

    def _forget_full(self, now: float) -> None:
        # Buckets that have refilled carry no state worth keeping.
        full = [k for k, b in self._buckets.items() if b.tokens + (now - b.stamp) * self.rate >= self.burst]
        for key in full:
            del self._buckets[key]
        if len(self._buckets) >= _MAX_PREFIXES:
            self._buckets.clear()
