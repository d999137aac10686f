"""Where a running island is remembered between commands (island up --detach, island status, island down),
and where its data lives, which outlives it.

Two folders, on purpose: the *state folder* is run state (state.json, the services' generated
configs, their logs, the uplink's control socket) and ``island down`` removes it; the *data
folder* holds what must never be lost because a process died or the island was restarted (the
crisis site's database: messages, editor accounts, the safe-and-well registry). ``island down``
keeps it; only ``island down --purge`` deletes it, after asking.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

APP = "odrift-island"


def default_state_dir() -> Path:
    configured = os.environ.get("ISLAND_STATE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / APP


def default_data_dir(state_path: Path | None = None) -> Path:
    """ISLAND_DATA_DIR; else beside a state folder that was chosen (``STATE-data``, so two test islands
    never share a registry); else the user's data home (``~/.local/share/odrift-island``)."""
    configured = os.environ.get("ISLAND_DATA_DIR")
    if configured:
        return Path(configured)
    chosen = state_path or (
        Path(os.environ["ISLAND_STATE_DIR"]) if os.environ.get("ISLAND_STATE_DIR") else None
    )
    if chosen is not None:
        return chosen.with_name(chosen.name + "-data")
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / APP


class StateDir:
    """A folder holding state.json, the services' generated configs and their logs.

    The CLI and the island's watchdog both change state.json: every read-modify-write holds a
    lock (``flock`` on state.lock), so neither loses the other's change.
    """

    def __init__(self, path: Path | None = None) -> None:
        self._chosen = path
        self.path = path or default_state_dir()

    @property
    def file(self) -> Path:
        return self.path / "state.json"

    @property
    def data_dir(self) -> Path:
        """Where the running island keeps its data (as recorded when it started), else where it would."""
        recorded = (self.read() or {}).get("data_dir")
        return Path(recorded) if recorded else default_data_dir(self._chosen)

    def read(self) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = json.loads(self.file.read_text(encoding="utf-8"))
            return data
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {"backend": "unknown", "corrupt": True}

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.path / "state.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _write(self, state: dict[str, Any]) -> None:
        tmp = self.file.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, self.file)

    def write(self, state: dict[str, Any]) -> None:
        with self._locked():
            self._write(state)

    def update(self, **changes: Any) -> dict[str, Any]:
        with self._locked():
            state = self.read() or {}
            state.update(changes)
            self._write(state)
            return state

    def change(self, edit: Callable[[dict[str, Any]], None]) -> dict[str, Any] | None:
        """Apply ``edit`` to the recorded state under the lock; nothing when no island is recorded
        (a watchdog must not bring back the state of an island that was just taken down)."""
        if not self.file.exists():
            return None
        with self._locked():
            state = self.read()
            if state is None:
                return None
            edit(state)
            self._write(state)
            return state

    def clear(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    def file_for(self, name: str) -> Path:
        self.path.mkdir(parents=True, exist_ok=True)
        return self.path / name
