"""The watchdog's backoff on real processes: the first restart at once, the next ones later and later,
a held service never, and a service that ran a stable minute starts over at once."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from island.backends import _processes
from island.backends.watchdog import MAX_BACKOFF, Watchdog, backoff
from island.state import StateDir


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def sleeper(tmp_path: Path, marker: str) -> dict:
    argv = [sys.executable, "-c", "import time; time.sleep(60)", marker]
    log = tmp_path / f"{marker}.log"
    return {
        "pid": _processes.spawn(argv, log),
        "marker": marker,
        "log": str(log),
        "argv": argv,
        "held": False,
    }


def kill(record: dict) -> None:
    os.kill(record["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 5
    while _processes.is_ours(record["pid"], record["marker"]) and time.monotonic() < deadline:
        _processes.exit_status(record["pid"])
        time.sleep(0.01)


def started(record: dict) -> bool:
    """Running as the recorded command, at once: a process still in the middle of exec counts (else the
    watchdog, looking right after a start, would start a second copy)."""
    return _processes.is_ours(record["pid"], record["marker"])


def test_backoff_doubles_up_to_its_ceiling() -> None:
    assert [backoff(n) for n in range(4)] == [0.0, 0.5, 1.0, 2.0]
    assert backoff(50) == MAX_BACKOFF


def test_restarts_at_once_then_backs_off_and_leaves_held_services_alone(tmp_path: Path) -> None:
    state = StateDir(tmp_path / "state")
    crashy, held = sleeper(tmp_path, "odr-test-crashy"), sleeper(tmp_path, "odr-test-held")
    held["held"] = True
    state.write({"processes": {"crashy": crashy, "held": held}})
    clock = Clock()
    watchdog = Watchdog(state, clock)
    try:
        kill(crashy)
        kill(held)
        assert watchdog.tick() == ["crashy"], "the first restart is at once"
        again = (state.read() or {})["processes"]["crashy"]
        assert again["restarts"] == 1 and started(again)

        kill(again)
        assert watchdog.tick() == [], "a second crash in a row waits"
        clock.now += 0.4
        assert watchdog.tick() == []
        clock.now += 0.2
        assert watchdog.tick() == ["crashy"]

        third = (state.read() or {})["processes"]["crashy"]
        assert started(third)
        kill(third)
        clock.now += 61  # it ran a stable minute: this crash is a first one again
        assert watchdog.tick() == ["crashy"]
        assert (state.read() or {})["processes"]["crashy"]["restarts"] == 3
        assert not _processes.is_ours((state.read() or {})["processes"]["held"]["pid"], "odr-test-held")
    finally:
        for record in (state.read() or {}).get("processes", {}).values():
            _processes.terminate({record["pid"]: record["marker"]}, 1.0)
