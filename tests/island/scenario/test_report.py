"""From a journal to numbers and pictures: metrics per phase, report.md, junit.xml and the SVG timeline."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from island.scenario.analysis import evaluate, time_to_detect, time_to_recover
from island.scenario.journal import Event, Journal, Operation
from island.scenario.junit import Skipped, render_junit
from island.scenario.loader import parse_scenario
from island.scenario.report import render_markdown, render_text
from island.scenario.timeline import fault_windows, render_svg

SCENARIO = parse_scenario(
    """title: Cut
probes:
  - name: crisis-dns
    dns: {name: "{crisis_name}"}
  - name: outside-dns
    dns: {name: www.bank.example}
phases:
  - name: before
    duration: 2
    expect: {crisis-dns: {}, outside-dns: {}}
  - name: during
    duration: 4
    faults: [{type: uplink-cut}]
    expect: {crisis-dns: {max_p95_ms: 10}, outside-dns: {max_success: 0.5}}
  - name: after
    duration: 2
    expect: {outside-dns: {min_success: 0.9}}
""",
    Path("cut.yaml"),
)


def _journal() -> Journal:
    journal = Journal("cut.yaml", "Cut", "local", "2026-01-01T00:00:00Z", {}, {})
    journal.events = [
        Event(0.0, "phase-start", "before"),
        Event(2.0, "phase-end", "before"),
        Event(2.0, "phase-start", "during"),
        Event(2.0, "fault-on", "during", "uplink cut (blackhole)"),
        Event(6.0, "fault-off", "during", "uplink cut (blackhole)"),
        Event(6.0, "phase-end", "during"),
        Event(6.0, "phase-start", "after"),
        Event(8.0, "phase-end", "after"),
    ]
    for i in range(16):  # one operation of each probe every half second
        t = i * 0.5
        phase = "before" if t < 2 else "during" if t < 6 else "after"
        journal.operations.append(Operation(t, phase, "crisis-dns", "ok", 1.0 + i))
        if phase == "during":
            status, latency = ("unknown", 1500.0) if i % 2 else ("fail", 2.0)
        elif t < 6.4:  # the first operation after the heal still fails, then it recovers
            status, latency = ("ok", 3.0) if phase == "before" else ("fail", 2.0)
        else:
            status, latency = "ok", 3.0
        journal.operations.append(
            Operation(t, phase, "outside-dns", status, latency, "" if status == "ok" else "x")
        )
    return journal


def test_metrics_per_phase_with_time_to_detect_and_recover() -> None:
    result = evaluate(_journal(), SCENARIO)
    before, during, after = result.phases
    crisis, outside = during.probes
    assert (crisis.total, crisis.ok, crisis.p50_ms, crisis.p95_ms, crisis.p99_ms) == (8, 8, 8.0, 12.0, 12.0)
    assert (outside.ok, outside.failed, outside.unknown) == (0, 4, 4)
    assert outside.detect_s == pytest.approx(0.002)  # the first operation in the window failed in 2 ms
    assert outside.recover_s == pytest.approx(0.503)  # healed at 6.0; the ok at 6.5 ended 3 ms later
    assert crisis.detect_s is None and crisis.recover_s is None
    assert crisis.problems == ("p95 12.0 ms > 10 ms",)  # latency tolerance broken
    assert after.probes[1].success == pytest.approx(3 / 4) and after.probes[1].problems
    assert not result.passed and before.passed


def test_a_probe_that_never_recovers_says_so() -> None:
    ops = [Operation(1.0, "p", "x", "fail", 5.0), Operation(3.0, "p", "x", "unknown", 1000.0)]
    assert time_to_detect(ops, 0.5) == pytest.approx(0.505)
    assert time_to_recover(ops, 2.0) == (None, False)


def test_text_and_markdown_reports_show_every_phase_and_the_verdict() -> None:
    result = evaluate(_journal(), SCENARIO)
    text = render_text(result)
    assert "detect s" in text and "recover s" in text and "unknown" in text
    assert "Verdict: FAILED" in text and "<= 50%" in text
    markdown = render_markdown(result, "timeline.svg")
    assert markdown.startswith("# Cut: FAILED")
    assert "![timeline](timeline.svg)" in markdown
    assert markdown.count("## Phase ") == 3
    assert "| outside-dns | <= 50% | 8 | 0 | 4 | 4 | 0.0% |" in markdown


def test_junit_has_a_case_per_required_probe_and_phase() -> None:
    suites = ET.fromstring(render_junit([evaluate(_journal(), SCENARIO)]))
    suite = suites.find("testsuite")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [
        "before: crisis-dns",
        "before: outside-dns",
        "during: crisis-dns",
        "during: outside-dns",
        "after: outside-dns",
    ]
    failed = [c.get("name") for c in cases if c.find("failure") is not None]
    assert failed == ["during: crisis-dns", "after: outside-dns"]
    assert suite.get("failures") == "2" and suite.get("tests") == "5"


def test_junit_names_a_skipped_scenario_and_why() -> None:
    reason = "the local backend cannot apply: bandwidth 256 kbit/s (bandwidth)"
    skipped = Skipped(scenario="scenarios/thin-uplink.yaml", title="Thin uplink", reason=reason)
    suites = ET.fromstring(render_junit([evaluate(_journal(), SCENARIO)], [skipped]))
    ran, left_out = suites.findall("testsuite")
    assert ran.get("skipped") is None and ran.find("testcase/skipped") is None
    assert left_out.get("name") == "Thin uplink" and left_out.get("skipped") == "1"
    case = left_out.find("testcase")
    assert case.get("classname") == "scenarios/thin-uplink.yaml"
    assert case.find("skipped").get("message") == reason


def test_the_timeline_shades_fault_windows_and_plots_every_operation() -> None:
    journal = _journal()
    journal.events += [
        Event(3.0, "flap-down", "during", "uplink cut"),
        Event(4.0, "flap-up", "during", "uplink cut"),
    ]
    assert fault_windows(journal) == [
        (2.0, 6.0, "uplink cut (blackhole)", False),
        (3.0, 4.0, "uplink cut", True),
    ]
    svg = ET.fromstring(render_svg(journal))
    ns = {"s": "http://www.w3.org/2000/svg"}
    assert len(svg.findall("s:rect[@class='fault']", ns)) == 2
    circles = svg.findall("s:circle", ns)
    assert len(circles) == len(journal.operations)
    assert {c.get("class") for c in circles} == {"ok", "fail", "unknown"}
