"""From the journal to numbers and a verdict: per phase and probe, success ratio, latency percentiles,
and for a phase with faults the time to detect (fault on -> first failed operation ends) and the
time to recover (last heal -> end of the first ok operation after which the probe never failed again)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .journal import Journal, Operation
from .model import Scenario, Tolerance
from .phone_timings import PhoneTimings, phone_timings


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
    unknown: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    tolerance: Tolerance | None
    problems: tuple[str, ...] = ()
    sample_error: str = ""
    detect_s: float | None = None  # None: no fault here, or the probe never failed
    recover_s: float | None = None  # None: no fault here, never failed, or never recovered
    recovered: bool = True

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
    start: float = 0.0  # seconds since the run started
    end: float = 0.0

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
    # Said in the report, not failing it (e.g. the island's certificate would expire during such a cut).
    warnings: tuple[str, ...] = field(default=())
    phones: PhoneTimings | None = None  # a scenario with phone probes and an uplink cut

    @property
    def passed(self) -> bool:
        return not self.problems and all(p.passed for p in self.phases)


def verdict_of(op: Operation) -> str:
    return op.detail.split(" ", 1)[0]


def _check(stats: dict[str, Any], tolerance: Tolerance) -> list[str]:
    problems = []
    if stats["total"] == 0:
        return ["no operations were recorded"]
    success = stats["ok"] / stats["total"]
    if success < tolerance.min_success:
        problems.append(f"success {success:.1%} < {tolerance.min_success:.0%}")
    if tolerance.max_success is not None and success > tolerance.max_success:
        problems.append(f"success {success:.1%} > {tolerance.max_success:.0%} (it should have failed)")
    for q in (50, 95, 99):
        limit = getattr(tolerance, f"max_p{q}_ms")
        value = stats[f"p{q}_ms"]
        if limit is not None and value is not None and value > limit:
            problems.append(f"p{q} {value:.1f} ms > {limit:g} ms")
    return problems


def _windows(journal: Journal) -> dict[str, tuple[float, float]]:
    """Phase name -> (first fault on, last fault healed) in run seconds."""
    windows: dict[str, tuple[float, float]] = {}
    for event in journal.events:
        if event.kind == "fault-on":
            on, off = windows.get(event.phase, (event.t, event.t))
            windows[event.phase] = (min(on, event.t), off)
        elif event.kind in ("fault-off", "rollback") and event.phase in windows:
            on, off = windows[event.phase]
            windows[event.phase] = (on, max(off, event.t))
    return windows


def _phase_bounds(journal: Journal) -> dict[str, tuple[float, float]]:
    bounds: dict[str, tuple[float, float]] = {}
    for event in journal.events:
        if event.kind == "phase-start":
            bounds[event.phase] = (event.t, event.t)
        elif event.kind == "phase-end" and event.phase in bounds:
            bounds[event.phase] = (bounds[event.phase][0], event.t)
    return bounds


def _end(op: Operation) -> float:
    return op.t + op.latency_ms / 1000


def time_to_detect(ops: list[Operation], fault_on: float) -> float | None:
    failed = [_end(o) for o in ops if o.status != "ok" and _end(o) >= fault_on]
    return round(min(failed) - fault_on, 3) if failed else None


def time_to_recover(ops: list[Operation], healed: float) -> tuple[float | None, bool]:
    """From the heal to the end of the first ok operation after the last failure; (None, False) if none."""
    after = sorted((o for o in ops if _end(o) >= healed), key=lambda o: o.t)
    last_failure = max((i for i, o in enumerate(after) if o.status != "ok"), default=-1)
    if last_failure == len(after) - 1:
        return None, False
    return round(max(0.0, _end(after[last_failure + 1]) - healed), 3), True


def evaluate(journal: Journal, scenario: Scenario) -> Result:
    windows = _windows(journal)
    bounds = _phase_bounds(journal)
    phases: list[PhaseResult] = []
    for phase in scenario.phases:
        rows = []
        for probe in scenario.probes:
            ops = [o for o in journal.operations if o.phase == phase.name and o.probe == probe.name]
            latencies = [o.latency_ms for o in ops if o.status == "ok"]
            tolerance = phase.expect.get(probe.name)
            wanted = tolerance.verdict if tolerance is not None else None
            stats: dict[str, Any] = {
                "total": len(ops),
                # A phone probe's verdict is the first word of its detail; a phase may require one.
                "ok": sum(o.status == "ok" and (wanted is None or verdict_of(o) == wanted) for o in ops),
                "p50_ms": percentile(latencies, 50),
                "p95_ms": percentile(latencies, 95),
                "p99_ms": percentile(latencies, 99),
            }
            problems = _check(stats, tolerance) if tolerance else []
            first_error = next(
                (
                    o.detail
                    for o in ops
                    if o.status != "ok" or (wanted is not None and verdict_of(o) != wanted)
                ),
                "",
            )
            detect = recover = None
            recovered = True
            if phase.name in windows:
                on, off = windows[phase.name]
                detect = time_to_detect(ops, on)
                if detect is not None:
                    later = [o for o in journal.operations if o.probe == probe.name and o.t >= on]
                    recover, recovered = time_to_recover(later, off)
            rows.append(
                ProbeStats(
                    probe=probe.name,
                    failed=sum(o.status == "fail" for o in ops),
                    unknown=sum(o.status == "unknown" for o in ops),
                    tolerance=tolerance,
                    problems=tuple(problems),
                    sample_error=first_error,
                    detect_s=detect,
                    recover_s=recover,
                    recovered=recovered,
                    **stats,
                )
            )
        start, end = bounds.get(phase.name, (0.0, 0.0))
        phases.append(
            PhaseResult(
                phase.name, phase.duration, tuple(f.describe() for f in phase.faults), tuple(rows), start, end
            )
        )
    errors = tuple(e.detail for e in journal.events if e.kind == "error")
    return Result(
        journal.title,
        journal.scenario,
        journal.backend,
        tuple(phases),
        errors,
        phones=phone_timings(journal, scenario),
    )
