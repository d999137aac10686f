"""The report people read: a table per phase, a verdict, and what to do next."""

from __future__ import annotations

from .analysis import ProbeStats, Result

_COLUMNS = ("probe", "required", "ops", "ok", "success", "p50 ms", "p95 ms", "p99 ms", "result")


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _row(stats: ProbeStats) -> tuple[str, ...]:
    tolerance = stats.tolerance
    required = f">= {tolerance.min_success:.0%}" if tolerance else "recorded"
    success = "-" if stats.success is None else f"{stats.success:.1%}"
    if not stats.required:
        verdict = "info"
    else:
        verdict = "PASS" if stats.passed else "FAIL"
    return (
        stats.probe, required, str(stats.total), str(stats.ok), success,
        _ms(stats.p50_ms), _ms(stats.p95_ms), _ms(stats.p99_ms), verdict,
    )


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in [_COLUMNS, *rows]) for i in range(len(_COLUMNS))]
    numeric = {2, 3, 4, 5, 6, 7}

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
    verdict = "PASSED: every required check held." if result.passed else "FAILED: a required check did not hold."
    out.append(f"Verdict: {verdict}")
    return "\n".join(out)
