"""From a journal to the numbers and the verdict people read."""

from __future__ import annotations

from pathlib import Path

from island.scenario import Journal, evaluate, render_text
from island.scenario.analysis import percentile
from island.scenario.journal import Operation
from island.scenario.loader import parse_scenario

SCENARIO = parse_scenario(
    """\
title: t
probes:
  - {name: crisis, dns: {name: a.example}}
  - {name: outside, dns: {name: b.example}}
phases:
  - name: before
    duration: 1
    expect: {crisis: {min_success: 1.0, max_p95_ms: 10}, outside: {}}
  - name: during
    duration: 1
    faults: [{type: uplink-cut}]
    expect: {crisis: {min_success: 0.9}}
""",
    Path("t.yaml"),
)


def journal(ops: list[tuple[str, str, str, float]]) -> Journal:
    j = Journal(scenario="t.yaml", title="t", backend="local", started_at="", topology={}, definition={})
    j.operations.extend(
        Operation(i * 0.1, phase, probe, status, ms) for i, (phase, probe, status, ms) in enumerate(ops)
    )
    return j


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50
    assert percentile(values, 95) == 95
    assert percentile(values, 99) == 99
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) is None


def test_all_ok_passes_and_not_required_failures_do_not_count() -> None:
    ops = [("before", "crisis", "ok", 2.0), ("before", "outside", "ok", 3.0)]
    ops += [("during", "crisis", "ok", 1.0)] * 9 + [("during", "outside", "fail", 0.0)] * 5
    result = evaluate(journal(ops), SCENARIO)
    assert result.passed
    during = result.phases[1]
    outside = next(p for p in during.probes if p.probe == "outside")
    assert not outside.required and outside.success == 0.0
    text = render_text(result)
    assert "Verdict: PASSED" in text
    assert "Phase during: 1 s, uplink cut (blackhole)" in text


def test_too_many_failures_or_too_slow_fails() -> None:
    ops = [("before", "crisis", "ok", 2.0), ("before", "outside", "ok", 3.0)]
    ops += [("during", "crisis", "ok", 1.0)] * 8 + [("during", "crisis", "unknown", 3000.0)] * 2
    result = evaluate(journal(ops), SCENARIO)
    assert not result.passed
    crisis = next(p for p in result.phases[1].probes if p.probe == "crisis")
    assert crisis.problems == ("success 80.0% < 90%",)
    assert crisis.unknown == 2
    slow = evaluate(
        journal(
            [
                ("before", "crisis", "ok", 50.0),
                ("before", "outside", "ok", 1.0),
                ("during", "crisis", "ok", 1.0),
            ]
        ),
        SCENARIO,
    )
    assert not slow.passed
    assert "p95 50.0 ms > 10 ms" in render_text(slow)
    assert "Verdict: FAILED" in render_text(slow)


def test_a_required_probe_without_operations_fails() -> None:
    result = evaluate(journal([("before", "crisis", "ok", 1.0), ("before", "outside", "ok", 1.0)]), SCENARIO)
    assert not result.passed
    assert "no operations were recorded" in render_text(result)


def test_latency_percentiles_only_count_successes() -> None:
    ops = [("before", "crisis", "ok", 2.0)] * 3 + [("before", "crisis", "unknown", 3000.0)]
    stats = evaluate(journal(ops), SCENARIO).phases[0].probes[0]
    assert stats.p99_ms == 2.0 and stats.total == 4 and stats.ok == 3
