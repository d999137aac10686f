"""The upstream health state machine alone (a fake clock; the conformance tests use real sockets)."""

from __future__ import annotations

from services.resolver.config import Endpoint, Health
from services.resolver.upstreams import DOWN, SUSPECT, UP, Upstreams


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def upstreams(count: int = 2, **health) -> tuple[Upstreams, Clock, list[tuple[str, str, bool]]]:
    clock, changes = Clock(), []
    group = Upstreams(
        [Endpoint(host="192.0.2.1", port=53 + i) for i in range(count)],
        Health(**health),
        on_change=lambda name, state, changed: changes.append((name, state, changed)),
        clock=clock,
    )
    return group, clock, changes


def test_timeouts_make_an_upstream_suspect_then_down_and_an_answer_brings_it_back() -> None:
    group, _, changes = upstreams(down_after=3)
    first, second = group.all
    group.missed(first)
    assert first.state == SUSPECT
    assert group.usable() == [second, first]  # up ones first
    group.missed(first)
    assert first.state == SUSPECT
    group.missed(first)
    assert first.state == DOWN and group.usable() == [second]
    group.answered(first)
    assert first.state == UP and first.misses == 0
    assert [(s, c) for name, s, c in changes if c] == [(SUSPECT, True), (DOWN, True), (UP, True)]


def test_a_refusing_port_is_down_at_once_and_rechecked_after_the_interval() -> None:
    group, clock, _ = upstreams(count=1, recheck_interval=30)
    [only] = group.all
    group.refused(only)
    assert only.state == DOWN and group.all_down() and group.usable() == []
    assert only.next_recheck == clock.now + 30


def test_an_answer_between_timeouts_resets_the_count() -> None:
    group, _, _ = upstreams(count=1, down_after=2)
    [only] = group.all
    group.missed(only)
    group.answered(only)
    group.missed(only)
    assert only.state == SUSPECT
