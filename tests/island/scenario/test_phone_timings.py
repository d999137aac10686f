"""What a cut meant to the phones, derived from a journal: island mode, portal and online per phone,
the DHCP joins, and any "no internet" while the island was in island mode."""

from __future__ import annotations

import json
from pathlib import Path

from island.probes import SIMULATED_JOIN
from island.scenario.analysis import evaluate
from island.scenario.journal import Event, Journal, Operation
from island.scenario.loader import parse_scenario
from island.scenario.report import render_json, render_text

SCENARIO = parse_scenario(
    """title: Phones
probes:
  - name: android
    phone: {os: android}
  - name: apple-joins
    phone: {os: apple, join: true}
  - name: island-mode
    http: {url: "http://{crisis_name}/api/captive", contains: '"captive":true'}
phases:
  - name: before
    duration: 2
  - name: during
    duration: 10
    faults: [{type: uplink-cut}]
  - name: after
    duration: 10
""",
    Path("phones.yaml"),
)
PORTAL = "portal http://krisinfo.kommun.example/"
LEASE = {
    "address": "10.4.0.120",
    "dns": "10.3.0.10",
    "router": "10.4.0.1",
    "captive_api": "x",
    "join_ms": 40.0,
}


def _journal(*operations: Operation) -> Journal:
    journal = Journal("phones.yaml", "Phones", "netns", "2026-01-01T00:00:00Z", {}, {})
    journal.events = [
        Event(2.0, "fault-on", "during", "uplink cut (blackhole)"),
        Event(12.0, "fault-off", "during", "uplink cut (blackhole)"),
    ]
    journal.operations = list(operations)
    return journal


def op(
    t: float, probe: str, detail: str, ms: float = 100, status: str = "ok", lease: dict | None = None
) -> Operation:
    phase = "before" if t < 2 else "during" if t < 12 else "after"
    return Operation(t, phase, probe, status, ms, detail, lease)  # type: ignore[arg-type]


def test_the_timings_come_from_the_journal() -> None:
    journal = _journal(
        op(1.0, "android", "online (HTTP 204)"),
        op(2.5, "android", "no-internet (no answer)", ms=4000, status="fail"),  # before island mode
        op(6.5, "android", PORTAL),
        op(12.5, "android", PORTAL),
        op(13.9, "android", "online (HTTP 204)"),
        op(3.0, "apple-joins", f"{PORTAL} · joined in 40 ms", lease=LEASE),
        op(16.0, "apple-joins", "online (HTTP 200) · joined in 60 ms", lease={**LEASE, "join_ms": 60.0}),
        op(2.1, "island-mode", "HTTP 200 without", status="fail"),
        op(4.0, "island-mode", "HTTP 200", ms=50),
    )
    t = evaluate(journal, SCENARIO).phones
    assert t is not None
    assert (t.cut_at, t.restored_at, t.island_mode_s) == (2.0, 12.0, 2.05)
    android, apple = t.phones
    assert (android.portal_s, android.online_s) == (4.6, 2.0)
    assert (apple.joins, apple.portal_s, apple.online_s) == (True, 1.1, 4.1)
    assert t.portal_goal_met and t.online_goal_met
    assert t.join_ms == (40.0, 60.0) and t.simulated_joins == 0
    assert (t.no_internet_before, t.no_internet_in_island_mode) == (1, ())
    text = render_text(evaluate(journal, SCENARIO))
    assert "Island mode: 2.05 s after the cut" in text
    assert "android: portal 4.60 s (within the goal of 5 s) after the cut; online 2.00 s" in text
    assert "DHCP join: 2 joins, median 50 ms, slowest 60 ms" in text
    assert (
        'No phone saw "no internet" while the island was in island mode (1 checks did in the 2.05 s' in text
    )
    data = json.loads(render_json(evaluate(journal, SCENARIO)))
    assert data["phones"]["island_mode_s"] == 2.05 and data["phones"]["portal_goal_met"] is True


def test_no_internet_in_island_mode_and_a_missed_goal_are_said_plainly() -> None:
    journal = _journal(
        op(4.0, "island-mode", "HTTP 200", ms=50),
        op(8.0, "android", "no-internet (HTTP 503)", status="fail"),
        op(9.0, "android", PORTAL),
        op(3.0, "apple-joins", f"{PORTAL} ({SIMULATED_JOIN})"),
    )
    result = evaluate(journal, SCENARIO)
    assert result.phones is not None and not result.phones.portal_goal_met
    text = render_text(result)
    assert "android: portal 7.10 s (MISSES the goal of 5 s)" in text
    assert '! 1 phone checks saw "no internet" while the island was in island mode' in text
    assert "8.00 s android: no-internet (HTTP 503)" in text
    assert "DHCP join: simulated for 1 checks: this backend has no DHCP server" in text
    assert "online never again after the restore" in text


def test_without_a_cut_or_a_phone_there_are_no_phone_timings() -> None:
    journal = _journal(op(1.0, "android", "online (HTTP 204)"))
    journal.events = []
    assert evaluate(journal, SCENARIO).phones is None
    assert "Phones:" not in render_text(evaluate(journal, SCENARIO))


def test_a_cut_without_any_no_internet_is_said_so() -> None:
    journal = _journal(
        op(1.0, "android", "online (HTTP 204)"),
        op(2.1, "android", PORTAL, ms=1500),  # its check name forwarded, let down by the cut: the portal
        op(4.0, "island-mode", "HTTP 200", ms=50),
    )
    t = evaluate(journal, SCENARIO).phones
    assert t is not None and (t.no_internet_before, t.no_internet_in_island_mode) == (0, ())
    assert 'No phone saw "no internet" at any point of the cut.' in render_text(evaluate(journal, SCENARIO))
