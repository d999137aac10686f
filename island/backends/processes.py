"""The process supervisor: the island's services as processes, for every backend that runs processes.

It starts each service (and waits until it answers), stops them all, restarts one, kills or
pauses one for a fault, and hands the island to its watchdog (``island.backends.watchdog``), a
small process per island that starts a crashed service again with backoff. Where a process runs
(a loopback address, a namespace) is the backend's business: it gives a ``launch`` function that
turns a service into a command line, and a ``health`` function that asks the service from where
it can be reached. Everything is recorded in state.json at once, so ``island down`` can clean up
after any crash, and the watchdog knows what to start again.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

from services.ports import describe, is_taken

from ..contract import ServiceFault
from ..service_specs import ServiceSpec
from ..state import StateDir
from . import _processes
from .base import BackendError, Say
from .faults import FaultHandler

HEALTH_TIMEOUT = 20.0
# Services start side by side, so each waits its turn for the CPU: a region starts about twenty processes
# on two cores. Each service beyond the single island's few adds this much to every service's allowance.
HEALTH_TIMEOUT_PER_EXTRA_SERVICE = 1.5
SINGLE_ISLAND_SERVICES = 6
WATCHDOG_MODULE = "island.backends.watchdog"

Launch = Callable[[ServiceSpec, "str | None"], list[str]]
Health = Callable[[ServiceSpec], Awaitable[None]]


async def _direct_health(spec: ServiceSpec) -> None:
    await spec.health()


def _direct_launch(spec: ServiceSpec, config_path: str | None) -> list[str]:
    return spec.argv(config_path)


def check_ports(specs: list[ServiceSpec]) -> None:
    """Refuse to start when a port a service needs is taken (on a shared network such as loopback)."""
    for spec in specs:
        for port in spec.ports:
            if is_taken(*port):
                raise BackendError(
                    f"{describe(port)} is already in use, and the {spec.title} needs it. "
                    "Stop what uses it (`ss -lntup` shows it), or run `island down` if an island is still up."
                )


def named(specs: list[ServiceSpec], name: str) -> ServiceSpec:
    for spec in specs:
        if spec.name == name:
            return spec
    raise BackendError(f"the island has no service {name!r}; it has {', '.join(s.name for s in specs)}")


class ProcessSupervisor:
    def __init__(
        self, state: StateDir, launch: Launch = _direct_launch, health: Health = _direct_health
    ) -> None:
        self.state = state
        self.launch = launch
        self.health = health

    # What is recorded -------------------------------------------------------------------------
    def records(self) -> dict[str, dict[str, Any]]:
        processes: dict[str, dict[str, Any]] = (self.state.read() or {}).get("processes", {})
        return processes

    def _edit(self, name: str, **changes: Any) -> None:
        def edit(state: dict[str, Any]) -> None:
            state.setdefault("processes", {}).setdefault(name, {}).update(changes)

        self.state.change(edit)

    def is_running(self) -> bool:
        return any(_processes.is_ours(p["pid"], p["marker"]) for p in self.records().values())

    def status(self) -> dict[str, dict[str, Any]]:
        return {
            name: {
                "pid": p["pid"],
                "running": _processes.is_ours(p["pid"], p["marker"]),
                "where": p["where"],
                "restarts": p.get("restarts", 0),
                "last_restart": p.get("last_restart"),
            }
            for name, p in self.records().items()
        }

    def watchdog(self) -> dict[str, Any] | None:
        watchdog = (self.state.read() or {}).get("watchdog")
        if watchdog is None:
            return None
        return {**watchdog, "running": _processes.is_ours(watchdog["pid"], WATCHDOG_MODULE)}

    # Life cycle -------------------------------------------------------------------------------
    async def start(self, specs: list[ServiceSpec], say: Say) -> None:
        """Start every service, wait until each answers, then start the watchdog. On failure, stop all."""
        self.state.update(processes={})
        try:
            for spec in specs:
                # Recorded at once, so `island down` can clean up even if start-up fails half-way.
                self._edit(spec.name, **self._spawn(spec), restarts=0, last_restart=None, held=False)
            allowance = HEALTH_TIMEOUT + HEALTH_TIMEOUT_PER_EXTRA_SERVICE * max(
                0, len(specs) - SINGLE_ISLAND_SERVICES
            )
            await asyncio.gather(*(self._wait_healthy(spec, say, allowance) for spec in specs))
            # The uplink is up at start: what depends on it is ready once it sees it.
            connected = [replace(spec, health=spec.connected) for spec in specs if spec.connected is not None]
            await asyncio.gather(*(self._wait_healthy(spec, lambda _: None, allowance) for spec in connected))
            self._start_watchdog()
        except BaseException:
            await self.stop(lambda _: None)
            raise

    def _spawn(self, spec: ServiceSpec) -> dict[str, Any]:
        config_path = None
        if spec.config is not None:
            path = self.state.file_for(f"{spec.name}.json")
            path.write_text(json.dumps(spec.config, indent=2) + "\n", encoding="utf-8")
            config_path = str(path)
        log = self.state.file_for(f"{spec.name}.log")
        argv = self.launch(spec, config_path)
        pid = _processes.spawn(argv, log)
        # The command line is recorded so that the watchdog can start it again exactly as it was.
        return {"pid": pid, "marker": spec.module, "log": str(log), "where": spec.where, "argv": argv}

    def _start_watchdog(self) -> None:
        log = self.state.file_for("watchdog.log")
        pid = _processes.spawn([sys.executable, "-m", WATCHDOG_MODULE, str(self.state.path)], log)
        self.state.update(watchdog={"pid": pid, "log": str(log)})

    async def _wait_healthy(self, spec: ServiceSpec, say: Say, allowance: float = HEALTH_TIMEOUT) -> None:
        deadline = time.monotonic() + allowance
        last_error = ""
        process = self.records()[spec.name]
        while time.monotonic() < deadline:
            # Only an exit says it stopped: between fork and exec its command line is still ours (a race).
            if _processes.exit_status(process["pid"]) is not None:
                raise BackendError(
                    f"the {spec.title} stopped while starting:\n{_processes.tail(Path(process['log']))}"
                )
            try:
                await asyncio.wait_for(self.health(spec), 2.0)
            except Exception as exc:  # not up yet: keep polling until the deadline
                last_error = str(exc) or type(exc).__name__
                await asyncio.sleep(0.1)
                continue
            say(f"  started {spec.name:<9} {spec.where}")
            return
        raise BackendError(
            f"the {spec.title} did not become healthy within {allowance:g} s ({last_error}); "
            f"its log is {process['log']}"
        )

    async def stop(self, say: Say) -> None:
        """The watchdog first (or it would start again what is being stopped), then every service."""
        watchdog = (self.state.read() or {}).get("watchdog")
        if watchdog:
            await asyncio.to_thread(_processes.terminate, {watchdog["pid"]: WATCHDOG_MODULE})
        processes = self.records()
        await asyncio.to_thread(_processes.terminate, {p["pid"]: p["marker"] for p in processes.values()})
        for name in processes:
            say(f"  stopped {name}")

    # One service ------------------------------------------------------------------------------
    def _record(self, name: str) -> dict[str, Any]:
        process = self.records().get(name)
        if process is None:
            raise BackendError(f"the island has no running service {name!r}; see `island status`")
        return process

    async def restart(self, spec: ServiceSpec) -> None:
        """Stop it as an operator would (SIGTERM), start it again, and wait until it answers."""
        process = self._record(spec.name)
        self._edit(spec.name, held=True)  # the watchdog keeps its hands off while we do it
        await asyncio.to_thread(_processes.terminate, {process["pid"]: process["marker"]})
        await self._revive(spec)

    async def kill(self, name: str) -> None:
        """SIGKILL, and held down (the watchdog leaves it) until :meth:`revive`."""
        process = self._record(name)
        self._edit(name, held=True)
        self.signal(name, signal.SIGKILL)
        await asyncio.to_thread(_processes.terminate, {process["pid"]: process["marker"]}, 1.0)

    async def revive(self, spec: ServiceSpec) -> None:
        """Start a killed service again; nothing if it runs."""
        process = self.records().get(spec.name)
        if process is None:
            return
        if _processes.is_ours(process["pid"], process["marker"]):
            self._edit(spec.name, held=False)
            return
        await self._revive(spec)

    async def _revive(self, spec: ServiceSpec) -> None:
        self._edit(spec.name, **self._spawn(spec), held=False)
        await self._wait_healthy(spec, lambda _: None)

    def signal(self, name: str, sig: int) -> None:
        process = self.records().get(name)
        if process and _processes.is_ours(process["pid"], process["marker"]):
            try:
                os.killpg(process["pid"], sig)
            except ProcessLookupError:
                pass


class ProcessBackend(Protocol):
    """A backend whose services are processes under a :class:`ProcessSupervisor`."""

    processes: ProcessSupervisor

    def service_spec(self, name: str) -> ServiceSpec: ...


class ServiceFaultHandler(FaultHandler[ProcessBackend, ServiceFault]):
    """kill (held down until healed), restart (at once, waits until it answers), pause (SIGSTOP, SIGCONT)."""

    fault = ServiceFault

    async def apply(self, backend: ProcessBackend, fault: ServiceFault) -> None:
        if fault.action == "pause":
            backend.processes.signal(fault.service, signal.SIGSTOP)
        elif fault.action == "kill":
            await backend.processes.kill(fault.service)
        else:
            await backend.processes.restart(backend.service_spec(fault.service))

    async def heal(self, backend: ProcessBackend, fault: ServiceFault) -> None:
        if fault.action == "pause":
            backend.processes.signal(fault.service, signal.SIGCONT)
        elif fault.action == "kill":
            await backend.processes.revive(backend.service_spec(fault.service))
