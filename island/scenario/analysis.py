"""From the journal to numbers and a verdict: success ratio and latency percentiles per phase and probe."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .journal import Journal
from .model import Scenario, Tolerance


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class ProbeStats:
    probe: str
    total: int
    ok: int
    failed: int
    timed_out: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    tolerance: Tolerance | None
    problems: tuple[str, ...] = ()
    sample_error: str = ""

    @property
    def success(self) -> float | None:
        return self.ok / self.total if self.total else None

    @property
    def required(self) -> bool:
        return self.tolerance is not None

    @property
    def passed(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class PhaseResult:
    name: str
    duration: float
    faults: tuple[str, ...]
    probes: tuple[ProbeStats, ...]

    @property
    def passed(self) -> bool:
        return all(p.passed for p in self.probes)


@dataclass(frozen=True)
class Result:
    title: str
    scenario: str
    backend: str
    phases: tuple[PhaseResult, ...]
    problems: tuple[str, ...] = field(default=())

    @property
    def passed(self) -> bool:
        return not self.problems and all(p.passed for p in self.phases)


def _check(stats: dict, tolerance: Tolerance) -> list[str]:
    problems = []
    if stats["total"] == 0:
        return ["no operations were recorded"]
    success = stats["ok"] / stats["total"]
    if success < tolerance.min_success:
        problems.append(f"success {success:.1%} < {tolerance.min_success:.0%}")
    for q in (50, 95, 99):
        limit = getattr(tolerance, f"max_p{q}_ms")
        value = stats[f"p{q}_ms"]
        if limit is not None and value is not None and value > limit:
            problems.append(f"p{q} {value:.1f} ms > {limit:g} ms")
    return problems


def evaluate(journal: Journal, scenario: Scenario) -> Result:
    phases = []
    for phase in scenario.phases:
        rows = []
        for probe in scenario.probes:
            ops = [o for o in journal.operations if o.phase == phase.name and o.probe == probe.name]
            latencies = [o.latency_ms for o in ops if o.status == "ok"]
            stats = {
                "total": len(ops),
                "ok": sum(o.status == "ok" for o in ops),
                "p50_ms": percentile(latencies, 50),
                "p95_ms": percentile(latencies, 95),
                "p99_ms": percentile(latencies, 99),
            }
            tolerance = phase.expect.get(probe.name)
            problems = _check(stats, tolerance) if tolerance else []
            first_error = next((o.detail for o in ops if o.status != "ok"), "")
            rows.append(
                ProbeStats(
                    probe=probe.name,
                    failed=sum(o.status == "fail" for o in ops),
                    timed_out=sum(o.status == "timeout" for o in ops),
                    tolerance=tolerance,
                    problems=tuple(problems),
                    sample_error=first_error,
                    **stats,
                )
            )
        phases.append(
            PhaseResult(phase.name, phase.duration, tuple(f.describe() for f in phase.faults), tuple(rows))
        )
    problems = tuple(e.detail for e in journal.events if e.kind == "error")
    return Result(journal.title, journal.scenario, journal.backend, tuple(phases), problems)
