"""The sliding-window rate limiter."""

from __future__ import annotations

import pytest

from services.crisis_site import ratelimit
from services.crisis_site.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_limit_per_key_and_the_window_slides() -> None:
    clock = Clock()
    limiter = RateLimiter(2, 10.0, clock)
    assert limiter.allow("a") == 0 and limiter.allow("a") == 0
    assert limiter.allow("a") == 10.0
    assert limiter.allow("b") == 0
    clock.now = 4.0
    assert limiter.allow("a") == 6.0
    clock.now = 10.0
    assert limiter.allow("a") == 0 and limiter.allow("a") == 0  # both t=0 events have left the window
    assert limiter.allow("a") == 10.0  # full again, with two at t=10


def test_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ratelimit, "MAX_KEYS", 10)
    clock = Clock()
    limiter = RateLimiter(1, 10.0, clock)
    for i in range(100):
        limiter.allow(f"k{i}")
    assert len(limiter._events) <= 10


def test_nonsense_limits_are_refused() -> None:
    with pytest.raises(ValueError):
        RateLimiter(0, 10.0)
    with pytest.raises(ValueError):
        RateLimiter(1, 0)


def test_wait_counts_nothing_and_record_counts_what_happened() -> None:
    clock = Clock()
    limiter = RateLimiter(2, 10.0, clock)
    assert limiter.wait("k") == 0 and limiter.wait("k") == 0 and limiter.wait("k") == 0
    limiter.record("k")
    limiter.record("k")
    assert limiter.wait("k") == 10.0 and limiter.allow("k") == 10.0
    clock.now += 10
    assert limiter.wait("k") == 0
