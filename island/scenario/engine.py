"""Runs a scenario against a running island: probes continuously, phases in order, faults always healed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from .journal import Event, Journal, Operation, Outcome
from .model import Fault, Phase, Probe, Scenario

if TYPE_CHECKING:  # the backends import the scenario model; only type hints go the other way
    from ..backends.base import Backend


@dataclass(frozen=True)
class Progress:
    phase: Phase
    elapsed: float
    faults: tuple[str, ...]
    counts: dict[str, tuple[int, int]]  # probe -> (ok, total) in this phase


ProgressCallback = Callable[[str, Progress | Event], None]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class _Run:
    def __init__(self, scenario: Scenario, backend: Backend, journal: Journal, on_progress: ProgressCallback | None):
        self.scenario = scenario
        self.backend = backend
        self.journal = journal
        self.on_progress = on_progress
        self.t0 = time.monotonic()
        self.phase: Phase = scenario.phases[0]
        self.stopping = False
        self.in_flight: dict[str, int] = {}
        self.quiet = asyncio.Condition()
        self.active: list[Fault] = []

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def event(self, kind: str, detail: str = "") -> None:
        event = Event(round(self.elapsed(), 4), kind, self.phase.name, detail)
        self.journal.events.append(event)
        if self.on_progress:
            self.on_progress("event", event)

    async def probe_loop(self, probe: Probe) -> None:
        interval = self.scenario.interval
        next_start = time.monotonic()
        while not self.stopping:
            phase = self.phase.name
            started = self.elapsed()
            self.in_flight[phase] = self.in_flight.get(phase, 0) + 1
            try:
                outcome = await self.backend.probe(probe)
            except Exception as exc:  # a broken probe is a failed check, never a silently dead loop
                outcome = Outcome("fail", (self.elapsed() - started) * 1000, f"probe error: {type(exc).__name__}: {exc}")
            finally:
                self.in_flight[phase] -= 1
                async with self.quiet:
                    self.quiet.notify_all()
            self.journal.operations.append(
                Operation(round(started, 4), phase, probe.name, outcome.status, round(outcome.latency_ms, 3),
                          outcome.detail)
            )
            next_start = max(next_start + interval, time.monotonic())
            await asyncio.sleep(max(0.0, next_start - time.monotonic()))

    async def settle(self, phase_name: str) -> None:
        """Wait until operations begun in an earlier phase have ended, so a new fault cannot reach back."""
        async with self.quiet:
            await self.quiet.wait_for(lambda: self.in_flight.get(phase_name, 0) == 0)

    async def apply(self, fault: Fault) -> None:
        await self.backend.apply(fault)
        self.active.append(fault)
        self.event("fault-on", fault.describe())

    async def heal_all(self, kind: str = "fault-off") -> None:
        while self.active:
            fault = self.active.pop()
            await self.backend.heal(fault)
            self.event(kind, fault.describe())

    async def ticker(self) -> None:
        while not self.stopping:
            if self.on_progress:
                counts: dict[str, tuple[int, int]] = {}
                for op in self.journal.operations:
                    if op.phase == self.phase.name:
                        ok, total = counts.get(op.probe, (0, 0))
                        counts[op.probe] = (ok + (op.status == "ok"), total + 1)
                phase_start = next(
                    (e.t for e in reversed(self.journal.events) if e.kind == "phase-start"), 0.0
                )
                faults = tuple(f.describe() for f in self.active)
                self.on_progress("tick", Progress(self.phase, self.elapsed() - phase_start, faults, counts))
            await asyncio.sleep(0.5)

    async def run(self) -> None:
        loops = [asyncio.ensure_future(self.probe_loop(p)) for p in self.scenario.probes]
        ticker = asyncio.ensure_future(self.ticker())
        try:
            previous: str | None = None
            for phase in self.scenario.phases:
                self.phase = phase
                self.event("phase-start", f"{phase.duration:g} s")
                phase_started = time.monotonic()
                if phase.faults and previous is not None:
                    await self.settle(previous)
                for fault in phase.faults:
                    await self.apply(fault)
                await asyncio.sleep(max(0.0, phase.duration - (time.monotonic() - phase_started)))
                # Heal before the next phase begins, so its first operations meet a healed network.
                await self.heal_all()
                self.event("phase-end")
                previous = phase.name
        except Exception as exc:
            self.event("error", f"{type(exc).__name__}: {exc}")
            raise
        finally:
            self.stopping = True
            # Rollbacks always run, whatever happened above.
            await asyncio.shield(self.heal_all("rollback"))
            await asyncio.gather(*loops, return_exceptions=True)
            ticker.cancel()


async def run_scenario(
    scenario: Scenario,
    path: Path,
    backend: Backend,
    on_progress: ProgressCallback | None = None,
) -> Journal:
    journal = Journal(
        scenario=str(path),
        title=scenario.title,
        backend=backend.name,
        started_at=_now(),
        topology=backend.topology.to_dict(),
        definition=scenario.model_dump(mode="json"),
    )
    await _Run(scenario, backend, journal, on_progress).run()
    journal.finished_at = _now()
    return journal
