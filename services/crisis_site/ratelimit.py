"""Sliding-window rate limits kept in memory: at most `limit` events per key in `window` seconds.

In memory on purpose: a restart forgets the counts, which only ever lets people in sooner.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

MAX_KEYS = 100_000  # a flood of distinct keys cannot grow memory without bound


class RateLimiter:
    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("a rate limit needs limit >= 1 and window > 0")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> float:
        """0 if the event may happen now (and counts it), else the seconds until it may."""
        return self._check(key, count=True)

    def wait(self, key: str) -> float:
        """0 if one more event may happen now, else the seconds until it may; counts nothing."""
        return self._check(key, count=False)

    def record(self, key: str) -> None:
        """Count an event that has happened (a failed login, a miss), whatever the limit says."""
        now = self._clock()
        with self._lock:
            self._window(key, now).append(now)

    def _check(self, key: str, count: bool) -> float:
        now = self._clock()
        with self._lock:
            events = self._window(key, now)
            if len(events) >= self.limit:
                return events[0] + self.window - now
            if count:
                events.append(now)
            return 0.0

    def _window(self, key: str, now: float) -> deque[float]:
        """The key's events within the window (called with the lock held)."""
        events = self._events.get(key)
        if events is None:
            if len(self._events) >= MAX_KEYS:
                self._forget_idle(now)
            events = self._events[key] = deque()
        while events and events[0] <= now - self.window:
            events.popleft()
        return events

    def _forget_idle(self, now: float) -> None:
        idle = [k for k, ev in self._events.items() if not ev or ev[-1] <= now - self.window]
        for k in idle:
            del self._events[k]
        if len(self._events) >= MAX_KEYS:  # all busy: drop the oldest half rather than refuse everyone
            for k in list(self._events)[: MAX_KEYS // 2]:
                del self._events[k]
