"""The process supervisor with real processes (a small web server) and the real watchdog process:
a crash is started again by itself and counted; a service fault's kill stays down until healed, a pause
answers nothing until healed, a restart is not a crash; `stop` leaves no process behind."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from backend_test_helpers import host
from net_helpers import free_port

from island.backends import _processes
from island.backends.processes import WATCHDOG_MODULE, ProcessSupervisor, ServiceFaultHandler
from island.contract import ServiceFault
from island.service_specs import ServiceSpec
from island.state import StateDir


def web_spec(address: str, port: int) -> ServiceSpec:
    async def answers() -> None:
        async with httpx.AsyncClient(timeout=1.0, trust_env=False) as client:
            (await client.get(f"http://{address}:{port}/")).raise_for_status()

    return ServiceSpec(
        name="site",
        title="test web server",
        module="http.server",
        config=None,
        args=("--bind", address, str(port)),
        ports=((address, port, "tcp"),),
        where=f"{address}:{port}",
        health=answers,
    )


class Island:
    """What the service fault handler needs of a backend: its supervisor and its services."""

    def __init__(self, state: StateDir, spec: ServiceSpec) -> None:
        self.processes = ProcessSupervisor(state)
        self.spec = spec

    def service_spec(self, name: str) -> ServiceSpec:
        assert name == self.spec.name
        return self.spec


@pytest.fixture
async def island(tmp_path: Path) -> AsyncIterator[Island]:
    address = host(5)
    state = StateDir(tmp_path / "state")
    state.write({"backend": "test"})
    island = Island(state, web_spec(address, free_port(address)))
    await island.processes.start([island.spec], lambda _: None)
    try:
        yield island
    finally:
        recorded = state.read() or {}
        await island.processes.stop(lambda _: None)
        pids = [p["pid"] for p in recorded.get("processes", {}).values()]
        pids += [recorded["watchdog"]["pid"]] if "watchdog" in recorded else []
        assert not any(_processes.is_ours(pid, "") for pid in pids), "stop left a process behind"


async def answers(island: Island, wait: float = 1.0) -> bool:
    try:
        await asyncio.wait_for(island.spec.health(), wait)
        return True
    except Exception:
        return False


async def until(check, within: float) -> float:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    while time.monotonic() - started < within:
        if await check():
            return time.monotonic() - started
        await asyncio.sleep(0.1)
    raise AssertionError(f"not within {within:g} s")


async def test_a_crash_is_started_again_by_the_watchdog_and_counted(island: Island) -> None:
    assert await answers(island)
    watchdog = island.processes.watchdog()
    assert watchdog is not None and watchdog["running"]
    pid = island.processes.records()["site"]["pid"]
    os.kill(pid, signal.SIGKILL)
    await until(lambda: answers(island, 0.3), within=10)
    status = island.processes.status()["site"]
    assert status["running"] and status["pid"] != pid and status["restarts"] == 1 and status["last_restart"]
    log = Path(island.processes.records()["site"]["log"]).read_text()
    assert f"the site (pid {pid}) had stopped; starting it again (restart 1)" in log
    assert "started it again" in Path(watchdog["log"]).read_text()


async def test_a_killed_service_stays_down_until_the_fault_is_healed(island: Island) -> None:
    kill = ServiceFault(type="service", service="site", action="kill")
    await ServiceFaultHandler().apply(island, kill)
    await asyncio.sleep(1.0)  # the watchdog looks four times a second
    assert not await answers(island, 0.3), "the watchdog must not undo a kill fault"
    await ServiceFaultHandler().heal(island, kill)
    assert await answers(island) and island.processes.status()["site"]["restarts"] == 0


async def test_a_paused_service_answers_again_once_healed(island: Island) -> None:
    pause = ServiceFault(type="service", service="site", action="pause")
    await ServiceFaultHandler().apply(island, pause)
    assert not await answers(island, 0.5)
    await ServiceFaultHandler().heal(island, pause)
    assert await answers(island)


async def test_a_restart_is_a_new_process_and_not_a_crash(island: Island) -> None:
    before = island.processes.records()["site"]["pid"]
    await ServiceFaultHandler().apply(island, ServiceFault(type="service", service="site", action="restart"))
    assert await answers(island)
    after = island.processes.status()["site"]
    assert after["pid"] != before and after["restarts"] == 0
    await asyncio.sleep(0.6)
    assert island.processes.status()["site"]["pid"] == after["pid"], "no second copy from the watchdog"


async def test_the_watchdog_stops_when_the_island_is_gone(tmp_path: Path) -> None:
    state = StateDir(tmp_path / "gone")
    log = state.file_for("watchdog.log")
    pid = _processes.spawn([sys.executable, "-m", WATCHDOG_MODULE, str(state.path)], log)
    state.write({"backend": "test", "processes": {}, "watchdog": {"pid": pid, "log": str(log)}})
    started = time.monotonic()
    while "watching the services" not in log.read_text() and time.monotonic() - started < 10:
        await asyncio.sleep(0.05)
    assert _processes.is_ours(pid, WATCHDOG_MODULE)
    state.clear()
    started = time.monotonic()
    while _processes.exit_status(pid) is None and time.monotonic() - started < 5:
        await asyncio.sleep(0.05)
    assert not _processes.is_ours(pid, WATCHDOG_MODULE)
