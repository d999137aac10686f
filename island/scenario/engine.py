"""Runs a scenario against a running island: probes continuously, phases in order, faults always healed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from .. import contract
from ..contract import Fault, Flapping, Outcome
from .journal import Event, Journal, Operation
from .model import Phase, Probe, Scenario
from .residents import Residents

if TYPE_CHECKING:  # the backends speak the contract and never import the scenario; types only
    from ..backends.base import Backend


@dataclass(frozen=True)
class Progress:
    phase: Phase
    elapsed: float
    faults: tuple[str, ...]
    counts: dict[str, tuple[int, int]]  # probe -> (ok, total) in this phase


ProgressCallback = Callable[[str, Progress | Event], None]


class _Active:
    """A fault that is on, and the task that ends it early (a duration) or drives it (flapping)."""

    def __init__(self, fault: Fault) -> None:
        self.fault = fault
        self.task: asyncio.Task[None] | None = None
        self.healed = False


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class _Run:
    def __init__(
        self, scenario: Scenario, backend: Backend, journal: Journal, on_progress: ProgressCallback | None
    ):
        self.scenario = scenario
        self.backend = backend
        self.journal = journal
        self.on_progress = on_progress
        self.t0 = time.monotonic()
        self.phase: Phase = scenario.phases[0]
        self.stopping = False
        self.in_flight: dict[str, int] = {}
        # Closed while faults are being switched on: no operation starts half in one phase, half in the next.
        self.gate = asyncio.Event()
        self.gate.set()
        self.quiet = asyncio.Condition()
        self.active: list[_Active] = []
        self.residents = Residents()

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def event(self, kind: str, detail: str = "") -> None:
        event = Event(round(self.elapsed(), 4), kind, self.phase.name, detail)
        self.journal.events.append(event)
        if self.on_progress:
            self.on_progress("event", event)

    async def run_operation(self, name: str, operation: contract.Operation) -> None:
        """One operation of probe ``name``, recorded in the journal whatever happens to it."""
        phase = self.phase.name
        started = self.elapsed()
        self.in_flight[phase] = self.in_flight.get(phase, 0) + 1
        try:
            outcome = await self.backend.probe(operation)
        except Exception as exc:  # a broken probe is a failed check, never a silently dead loop
            outcome = Outcome(
                "fail", (self.elapsed() - started) * 1000, f"probe error: {type(exc).__name__}: {exc}"
            )
        finally:
            self.in_flight[phase] -= 1
            async with self.quiet:
                self.quiet.notify_all()
        self.residents.settle(operation, outcome)
        self.journal.operations.append(
            Operation(
                round(started, 4),
                phase,
                name,
                outcome.status,
                round(outcome.latency_ms, 3),
                outcome.detail,
                asdict(outcome.lease) if outcome.lease else None,
            )
        )

    async def probe_loop(self, probe: Probe) -> None:
        interval = self.scenario.period
        next_start = time.monotonic()
        while not self.stopping:
            await self.gate.wait()
            if self.stopping:
                break
            # The whole operation, state included (whom a lookup looks for), goes to the backend.
            idle = bool(probe.during) and self.phase.name not in probe.during
            operation = None if idle else self.residents.operation(probe)
            if operation is not None:  # None: a lookup with nobody registered yet waits for the next turn
                await self.run_operation(probe.name, operation)
            # Keep the asked rate on average (a late start is made up), but never burst after a long stall.
            next_start = max(next_start + interval, time.monotonic() - 1.0)
            await asyncio.sleep(max(0.0, next_start - time.monotonic()))

    async def settle(self) -> None:
        """Wait until operations begun in an earlier phase have ended, so a new fault cannot reach back."""
        async with self.quiet:
            await self.quiet.wait_for(lambda: sum(self.in_flight.values()) == 0)

    async def apply(self, fault: Fault) -> None:
        active = _Active(fault)
        self.event("fault-on", fault.describe())
        if isinstance(fault, Flapping):
            active.task = asyncio.ensure_future(self.flap(fault))
        else:
            self.active.append(active)  # before it is on: a failing apply is still healed
            await self.backend.apply(fault)
        if fault.instant:  # a restart is over once it is done
            active.healed = True
            self.active.remove(active)
            self.event("fault-off", fault.describe())
            return
        if active not in self.active:
            self.active.append(active)
        if fault.duration is not None:
            asyncio.ensure_future(self.heal_later(active, fault.duration))

    async def heal_later(self, active: _Active, seconds: float) -> None:
        await asyncio.sleep(seconds)
        await self.heal(active)

    async def heal(self, active: _Active, kind: str = "fault-off") -> None:
        if active.healed:
            return
        active.healed = True
        if active.task is not None:
            active.task.cancel()
            await asyncio.gather(active.task, return_exceptions=True)
        else:
            await self.backend.heal(active.fault)
        if active in self.active:
            self.active.remove(active)
        self.event(kind, active.fault.describe())

    async def flap(self, fault: Flapping) -> None:
        """Up for duty × period, then cut for the rest of the period, again and again; healed on the way out."""
        cut = fault.cut()
        down = False
        try:
            while True:
                await asyncio.sleep(fault.period * fault.duty)
                await self.backend.apply(cut)
                down = True
                self.event("flap-down", cut.describe())
                await asyncio.sleep(fault.period * (1 - fault.duty))
                await self.backend.heal(cut)
                down = False
                self.event("flap-up", cut.describe())
        finally:
            if down:
                await self.backend.heal(cut)
                self.event("flap-up", cut.describe())

    async def heal_all(self, kind: str = "fault-off") -> None:
        for active in reversed(list(self.active)):
            await self.heal(active, kind)

    async def rollbacks(self) -> None:
        """Whatever happened: heal every fault still on, then the scenario's own rollbacks."""
        await self.heal_all("rollback")
        for fault in self.scenario.rollbacks:
            await self.backend.heal(fault)
            self.event("rollback", fault.describe())

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
                faults = tuple(a.fault.describe() for a in self.active)
                self.on_progress("tick", Progress(self.phase, self.elapsed() - phase_start, faults, counts))
            await asyncio.sleep(0.5)

    async def run(self) -> None:
        loops = [asyncio.ensure_future(self.probe_loop(p)) for p in self.scenario.probes]
        ticker = asyncio.ensure_future(self.ticker())
        try:
            for phase in self.scenario.phases:
                # A phase's operations begin once its faults are on, the first phase's too.
                if phase.faults:
                    self.gate.clear()
                    await self.settle()
                self.phase = phase
                self.event("phase-start", f"{phase.duration:g} s")
                phase_started = time.monotonic()
                try:
                    for fault in phase.faults:
                        if fault.instant:
                            self.gate.set()  # a restart takes a while: probes must see it happen
                        await self.apply(fault)
                finally:
                    self.gate.set()
                await asyncio.sleep(max(0.0, phase.duration - (time.monotonic() - phase_started)))
                # Operations begun under a fault end under it (a paused service answering after the
                # heal would count as ok); then heal before the next phase, whose first operations
                # meet a healed network. The gate opens again once the next phase has begun.
                if self.active:
                    self.gate.clear()
                    await self.settle()
                await self.heal_all()
                self.event("phase-end")
        except Exception as exc:
            # Recorded, not raised: the journal and the report of what did happen are still written,
            # and the verdict is FAILED (analysis counts every error event as a problem).
            self.event("error", f"{type(exc).__name__}: {exc}")
        finally:
            self.stopping = True
            self.gate.set()
            # Rollbacks always run, whatever happened above.
            await asyncio.shield(self.rollbacks())
            await asyncio.gather(*loops, return_exceptions=True)
            ticker.cancel()


def check_scenario(backend: Backend, scenario: Scenario) -> None:
    """Refuse, before anything runs, a scenario whose faults, places or features ``backend`` lacks."""
    faults = scenario.faults()
    backend.check_faults(faults, scenario.features() - {f.feature for f in faults})


async def run_scenario(
    scenario: Scenario,
    path: Path,
    backend: Backend,
    on_progress: ProgressCallback | None = None,
) -> Journal:
    check_scenario(backend, scenario)  # refuse what this backend cannot do before anything runs
    journal = Journal(
        scenario=str(path),
        title=scenario.title,
        backend=backend.name,
        started_at=_now(),
        topology=backend.addresses.to_dict(),
        definition=scenario.model_dump(mode="json"),
    )
    await _Run(scenario, backend, journal, on_progress).run()
    journal.finished_at = _now()
    return journal
