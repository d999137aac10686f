"""The state folder (run state, removed by `island down`) and the data folder (kept) are two places,
and the watchdog's and the CLI's changes to state.json never undo each other."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from island.state import StateDir, default_data_dir


def test_the_data_folder_is_beside_a_chosen_state_folder_never_inside(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ISLAND_DATA_DIR", raising=False)
    state = StateDir(tmp_path / "state")
    assert state.data_dir == tmp_path / "state-data"
    state.write({"backend": "local"})
    state.clear()
    assert not state.path.exists()
    monkeypatch.setenv("ISLAND_DATA_DIR", str(tmp_path / "elsewhere"))
    assert default_data_dir(tmp_path / "state") == tmp_path / "elsewhere"


def test_the_recorded_data_folder_wins(tmp_path: Path) -> None:
    state = StateDir(tmp_path / "state")
    state.write({"data_dir": str(tmp_path / "clean-data")})
    assert state.data_dir == tmp_path / "clean-data"


def test_concurrent_changes_are_all_kept(tmp_path: Path) -> None:
    state = StateDir(tmp_path / "state")
    state.write({"counts": {}})

    def bump(name: str) -> None:
        for _ in range(50):
            state.change(lambda s: s["counts"].__setitem__(name, s["counts"].get(name, 0) + 1))

    threads = [threading.Thread(target=bump, args=(f"t{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (state.read() or {})["counts"] == {f"t{i}": 50 for i in range(4)}


def test_a_change_after_down_brings_nothing_back(tmp_path: Path) -> None:
    state = StateDir(tmp_path / "state")
    state.write({"processes": {}})
    state.clear()
    assert state.change(lambda s: s.update(back=True)) is None and state.read() is None
