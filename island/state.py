"""Where a running island is remembered between commands (island up --detach, island status, island down)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any


def default_state_dir() -> Path:
    configured = os.environ.get("ISLAND_STATE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "odrift-island"


class StateDir:
    """A folder holding state.json, the services' generated configs and their logs."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_state_dir()

    @property
    def file(self) -> Path:
        return self.path / "state.json"

    def read(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {"backend": "unknown", "corrupt": True}

    def write(self, state: dict[str, Any]) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        tmp = self.file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, self.file)

    def update(self, **changes: Any) -> dict[str, Any]:
        state = self.read() or {}
        state.update(changes)
        self.write(state)
        return state

    def clear(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    def file_for(self, name: str) -> Path:
        self.path.mkdir(parents=True, exist_ok=True)
        return self.path / name
