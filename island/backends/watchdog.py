"""The island's watchdog: one small process per island that starts a crashed service again, with backoff.

    python -m island.backends.watchdog STATE_FOLDER

``island up`` starts it once every service answers (detached, like the services, so it
outlives ``island up --detach``) and records its pid in state.json; ``island down`` stops it
first. It reads the services' recorded command lines from state.json and, every quarter
second, starts again any that is gone, unless a fault or ``island restart`` holds it. The
first restart is at once, the next after 0.5 s, then 1, 2, … up to 30 s between tries; a
service that has run for a minute since its last restart starts over at once. Each restart is
counted in state.json (``island status`` shows it) and written to this process's log and to
the service's own log.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..state import StateDir
from . import _processes

POLL_SECONDS = 0.25
FIRST_BACKOFF = 0.5
MAX_BACKOFF = 30.0
STABLE_SECONDS = 60.0

log = logging.getLogger("watchdog")


def backoff(attempt: int) -> float:
    """Seconds to wait before restart number ``attempt`` (0 = the first since the service was stable)."""
    return 0.0 if attempt == 0 else min(FIRST_BACKOFF * 2 ** (attempt - 1), MAX_BACKOFF)


class Watchdog:
    def __init__(self, state: StateDir, clock: Any = time.monotonic) -> None:
        self.state = state
        self.clock = clock
        self.attempts: dict[str, int] = {}  # restarts in a row, without a stable minute between
        self.restarted_at: dict[str, float] = {}
        self.due: dict[str, float] = {}  # a service found gone -> when it may be started again

    def mine(self) -> bool:
        """Whether the island recorded in the state folder is still the one this watchdog keeps."""
        recorded = self.state.read() or {}
        return bool((recorded.get("watchdog") or {}).get("pid") == os.getpid())

    def tick(self) -> list[str]:
        """One look at every service; starts again those due. Returns the names restarted."""
        _reap()
        restarted: list[str] = []

        def edit(state: dict[str, Any]) -> None:
            for name, process in state.get("processes", {}).items():
                if process.get("held") or _processes.is_ours(process["pid"], process["marker"]):
                    self.due.pop(name, None)
                    continue
                now = self.clock()
                if name not in self.due:
                    if now - self.restarted_at.get(name, -STABLE_SECONDS) >= STABLE_SECONDS:
                        self.attempts[name] = 0
                    self.due[name] = now + backoff(self.attempts.get(name, 0))
                if now < self.due[name]:
                    continue
                self._restart(name, process)
                del self.due[name]
                self.attempts[name] = self.attempts.get(name, 0) + 1
                self.restarted_at[name] = now
                restarted.append(name)

        # Under the state's lock: `island restart` and the service faults hold a service before they
        # touch it, so the watchdog never starts a second copy beside theirs.
        self.state.change(edit)
        return restarted

    def _restart(self, name: str, process: dict[str, Any]) -> None:
        count = process.get("restarts", 0) + 1
        when = datetime.now(UTC).isoformat(timespec="seconds")
        note = f"{when} island watchdog: the {name} (pid {process['pid']}) had stopped; starting it again (restart {count})"
        with open(process["log"], "a", encoding="utf-8") as service_log:
            service_log.write(note + "\n")
        pid = _processes.spawn(process["argv"], Path(process["log"]))
        log.warning(
            "the %s (pid %s) had stopped; started it again as pid %s (restart %d)",
            name,
            process["pid"],
            pid,
            count,
        )
        process.update(pid=pid, restarts=count, last_restart=datetime.now(UTC).isoformat(timespec="seconds"))

    def run(self) -> None:
        # `island up` records this pid just after starting it: wait for that before the first look.
        deadline = time.monotonic() + 10.0
        while not self.mine() and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.mine():
            log.info("watching the services of %s", self.state.path)
        while self.mine():
            self.tick()
            time.sleep(POLL_SECONDS)
        log.info("the island is down; the watchdog stops")


def _reap() -> None:
    """Collect the exit of every child it started that has ended (else they linger as zombies)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m island.backends.watchdog STATE_FOLDER", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s watchdog %(levelname)s %(message)s")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    log.info("keeping the island of %s", args[0])
    Watchdog(StateDir(Path(args[0]))).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
