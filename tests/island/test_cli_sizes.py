"""Which scenarios of a run fit the island or region that is up (or the first scenario's), by
islands and hub nodes: the others are skipped, saying what they need and how to run them."""

from __future__ import annotations

from pathlib import Path

from island.backends import LocalBackend
from island.cli import SCENARIO_DIR, _by_size
from island.scenario import load_scenario
from island.state import StateDir

FILES = [
    SCENARIO_DIR / name for name in ("full-outage.yaml", "region-partition.yaml", "region-hub-node-down.yaml")
]


def test_a_region_with_a_hub_cluster_runs_only_the_scenarios_of_its_size(tmp_path: Path) -> None:
    loaded = [(path, load_scenario(path)) for path in FILES]
    cluster = LocalBackend(StateDir(tmp_path), islands=3, hub_nodes=3)
    fits, wanted, apart = _by_size(loaded, cluster)
    assert wanted == (3, 3) and [path.stem for path, _ in fits] == ["region-hub-node-down"]
    reasons = {Path(s.scenario).stem: s.reason for s in apart}
    assert reasons["region-partition"].startswith("needs a region of 3 islands; run it by itself")
    assert reasons["full-outage"].startswith("needs one island; run it by itself")
    # Nothing up: the first scenario's size; the hub cluster's says what it needs.
    _, wanted, apart = _by_size(loaded, None)
    assert wanted == (1, 1)
    assert {Path(s.scenario).stem: s.reason for s in apart}["region-hub-node-down"].startswith(
        "needs a region of 3 islands with a hub of 3 nodes; run it by itself"
    )
