"""The report people read: a table per phase and a verdict, in the terminal and as Markdown."""

from __future__ import annotations

from .analysis import ProbeStats, Result

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
    for problem in result.problems:
        out.append(f"- error: {problem}")
    for warning in result.warnings:
        out.append(f"- **warning**: {warning}")
    out.append(f"**Verdict: {verdict}**")
    return "\n".join(out) + "\n"
