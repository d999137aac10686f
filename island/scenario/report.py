"""The report people read: a table per phase and a verdict, in the terminal and as Markdown; and the
same numbers as JSON for tools."""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict
from typing import Any

from .analysis import ProbeStats, Result
from .phone_timings import ONLINE_GOAL_S, PORTAL_GOAL_S, PhoneTimings

_COLUMNS = (
    "probe",
    "required",
    "ops",
    "ok",
    "fail",
    "unknown",
    "success",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "detect s",
    "recover s",
    "result",
)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _seconds(value: float | None, recovered: bool = True) -> str:
    if not recovered:
        return "never"
    return "-" if value is None else f"{value:.2f}"


def _row(stats: ProbeStats) -> tuple[str, ...]:
    tolerance = stats.tolerance
    if tolerance is None:
        required = "recorded"
    elif tolerance.max_success is not None:
        required = f"<= {tolerance.max_success:.0%}"
    else:
        required = f">= {tolerance.min_success:.0%}"
    success = "-" if stats.success is None else f"{stats.success:.1%}"
    if not stats.required:
        verdict = "info"
    else:
        verdict = "PASS" if stats.passed else "FAIL"
    return (
        stats.probe,
        required,
        str(stats.total),
        str(stats.ok),
        str(stats.failed),
        str(stats.unknown),
        success,
        _ms(stats.p50_ms),
        _ms(stats.p95_ms),
        _ms(stats.p99_ms),
        _seconds(stats.detect_s),
        _seconds(stats.recover_s, stats.recovered or stats.detect_s is None),
        verdict,
    )


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in [_COLUMNS, *rows]) for i in range(len(_COLUMNS))]
    numeric = set(range(2, 12))

    def fmt(row: tuple[str, ...]) -> str:
        cells = [c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))]
        return "  " + "  ".join(cells).rstrip()

    return [fmt(_COLUMNS), "  " + "  ".join("-" * w for w in widths), *(fmt(r) for r in rows)]


def _goal(value: float | None, goal: float, never: str) -> str:
    if value is None:
        return never
    return f"{value:.2f} s ({'within' if value <= goal else 'MISSES'} the goal of {goal:g} s)"


def phone_lines(t: PhoneTimings) -> list[str]:
    """What the cut meant to the phones, one fact a line (issue 15's goals)."""
    restored = f", uplink restored at {t.restored_at:.2f} s" if t.restored_at is not None else ""
    lines = [f"Phones: uplink cut at {t.cut_at:.2f} s{restored} (run time)."]
    if t.island_mode_s is None:
        lines.append("Island mode: not measured (no probe of the captive-portal API, /api/captive).")
    else:
        lines.append(
            f"Island mode: {t.island_mode_s:.2f} s after the cut (the captive-portal API said captive)."
        )
    for p in t.phones:
        about = [p.os] if p.os != p.probe else []
        about += ["joins the Wi-Fi"] if p.joins else []
        who = f"{p.probe} ({', '.join(about)})" if about else p.probe
        portal = _goal(p.portal_s, PORTAL_GOAL_S, "never said portal during the cut")
        online = (
            ""
            if t.restored_at is None
            else f"; online {_goal(p.online_s, ONLINE_GOAL_S, 'never again')} after the restore"
        )
        lines.append(f"{who}: portal {portal} after the cut{online}.")
    if t.join_ms:
        joins = sorted(t.join_ms)
        lines.append(
            f"DHCP join: {len(joins)} joins, median {statistics.median(joins):.0f} ms, "
            f"slowest {joins[-1]:.0f} ms (from the phone's first DHCP message to its address applied)."
        )
    if t.simulated_joins:
        lines.append(
            f"DHCP join: simulated for {t.simulated_joins} checks: this backend has no DHCP server, "
            "the phones already had their addresses (the netns backend joins for real)."
        )
    if t.no_internet_in_island_mode:
        lines.append(
            f'! {len(t.no_internet_in_island_mode)} phone checks saw "no internet" while the island was in '
            f"island mode with the uplink cut; the first: {t.no_internet_in_island_mode[0]}"
        )
    elif t.no_internet_before and t.island_mode_s is not None:
        lines.append(
            f'No phone saw "no internet" while the island was in island mode ({t.no_internet_before} checks '
            f"did in the {t.island_mode_s:.2f} s before the island noticed the cut)."
        )
    elif t.island_mode_s is not None:
        lines.append('No phone saw "no internet" at any point of the cut.')
    return lines


def render_json(result: Result) -> str:
    """The verdict, each phase's numbers and the phones' timings, for tools (report.json)."""
    data: dict[str, Any] = {
        "title": result.title,
        "scenario": result.scenario,
        "backend": result.backend,
        "passed": result.passed,
        "problems": list(result.problems),
        "warnings": list(result.warnings),
        "phases": [
            {
                "name": phase.name,
                "faults": list(phase.faults),
                "passed": phase.passed,
                "probes": [
                    {
                        **{k: v for k, v in asdict(stats).items() if k != "tolerance"},
                        "success": stats.success,
                        "required": stats.tolerance.model_dump(exclude_none=True)
                        if stats.tolerance
                        else None,
                    }
                    for stats in phase.probes
                ],
            }
            for phase in result.phases
        ],
        "phones": None,
    }
    if result.phones is not None:
        t = result.phones
        data["phones"] = {
            **asdict(t),
            "goals": {"portal_s": PORTAL_GOAL_S, "online_s": ONLINE_GOAL_S},
            "portal_goal_met": t.portal_goal_met,
            "online_goal_met": t.online_goal_met,
        }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def render_text(result: Result) -> str:
    out = [f"Scenario: {result.title}  ({result.scenario}, backend {result.backend})", ""]
    for phase in result.phases:
        faults = ", ".join(phase.faults) if phase.faults else "no fault"
        out.append(f"Phase {phase.name}: {phase.duration:g} s, {faults}")
        out.extend(_table([_row(s) for s in phase.probes]))
        for stats in phase.probes:
            for problem in stats.problems:
                out.append(f"    ! {stats.probe}: {problem}")
            if stats.problems and stats.sample_error:
                out.append(f"      first error: {stats.sample_error}")
            if not stats.required and stats.ok < stats.total and stats.sample_error:
                out.append(f"    · {stats.probe} (not required here): {stats.sample_error}")
        out.append("")
    if result.phones is not None:
        out += [*phone_lines(result.phones), ""]
    for problem in result.problems:
        out.append(f"! {problem}")
    for warning in result.warnings:
        out.append(f"Warning: {warning}")
    verdict = (
        "PASSED: every required check held." if result.passed else "FAILED: a required check did not hold."
    )
    out.append(f"Verdict: {verdict}")
    return "\n".join(out)


def render_markdown(result: Result, timeline: str | None = None) -> str:
    verdict = "PASSED" if result.passed else "FAILED"
    out = [
        f"# {result.title}: {verdict}",
        "",
        f"Scenario `{result.scenario}` on the **{result.backend}** backend.",
        "",
    ]
    if timeline:
        out += [f"![timeline]({timeline})", ""]
    out += [
        "Success is the share of operations that were ok; latencies (ms) are over ok operations; "
        "*detect* is seconds from the fault to the first failure seen, *recover* seconds from the heal "
        "to the first success after which the probe no longer failed.",
        "",
    ]
    for phase in result.phases:
        faults = ", ".join(phase.faults) if phase.faults else "no fault"
        out += [f"## Phase {phase.name}: {phase.duration:g} s, {faults}", ""]
        out.append("| " + " | ".join(_COLUMNS) + " |")
        out.append("|" + "|".join("---" if i < 2 else "---:" for i in range(len(_COLUMNS))) + "|")
        out += ["| " + " | ".join(_row(s)) + " |" for s in phase.probes]
        notes = [f"- **{s.probe}**: {problem}" for s in phase.probes for problem in s.problems]
        notes += [f"- {s.probe}, first error: `{s.sample_error}`" for s in phase.probes if s.sample_error]
        out += ["", *notes, ""] if notes else [""]
    if result.phones is not None:
        out += ["## Phones", "", *(f"- {line}" for line in phone_lines(result.phones)), ""]
    for problem in result.problems:
        out.append(f"- error: {problem}")
    for warning in result.warnings:
        out.append(f"- **warning**: {warning}")
    out.append(f"**Verdict: {verdict}**")
    return "\n".join(out) + "\n"
