"""What a backend says before it starts anything: which scenarios it can run, and its namespace names."""

from __future__ import annotations

from pathlib import Path

import pytest

from island.backends import LocalBackend, NetnsBackend, UnsupportedFault
from island.cli import SCENARIO_DIR
from island.scenario import load_scenario
from island.scenario.engine import check_scenario
from island.state import StateDir


def test_a_backend_refuses_what_it_cannot_do_naming_fault_and_backend(tmp_path: Path) -> None:
    backend = LocalBackend(StateDir(tmp_path))
    scenario = load_scenario(SCENARIO_DIR / "thin-uplink.yaml")
    with pytest.raises(UnsupportedFault) as refused:
        check_scenario(backend, scenario)
    assert "the local backend cannot apply: bandwidth 256 kbit/s (bandwidth)" in str(refused.value)
    check_scenario(backend, load_scenario(SCENARIO_DIR / "flapping-uplink.yaml"))  # flapping = cuts


def test_the_netns_backend_can_do_every_shipped_scenario(tmp_path: Path) -> None:
    for path in sorted(SCENARIO_DIR.glob("*.yaml")):
        scenario = load_scenario(path)
        islands, hub_nodes = scenario.size
        check_scenario(
            NetnsBackend(StateDir(tmp_path / path.stem), islands=islands, hub_nodes=hub_nodes), scenario
        )


def test_the_hub_node_scenario_needs_a_hub_cluster(tmp_path: Path) -> None:
    scenario = load_scenario(SCENARIO_DIR / "region-hub-node-down.yaml")
    with pytest.raises(UnsupportedFault) as refused:
        check_scenario(LocalBackend(StateDir(tmp_path), islands=3), scenario)
    assert "feature hub-nodes:3" in str(refused.value)
    check_scenario(LocalBackend(StateDir(tmp_path), islands=3, hub_nodes=3), scenario)


def test_the_region_scenario_needs_a_region_of_three(tmp_path: Path) -> None:
    scenario = load_scenario(SCENARIO_DIR / "region-partition.yaml")
    check_scenario(LocalBackend(StateDir(tmp_path / "r"), islands=3), scenario)
    with pytest.raises(UnsupportedFault) as refused:
        check_scenario(LocalBackend(StateDir(tmp_path / "one")), scenario)
    assert "feature islands:3" in str(refused.value) and "place:trygghetspunkt-c" in str(refused.value)


def test_two_state_folders_get_different_namespace_names(tmp_path: Path) -> None:
    a, b = NetnsBackend(StateDir(tmp_path / "a")), NetnsBackend(StateDir(tmp_path / "b"))
    assert a.prefix != b.prefix and a.prefix.startswith("odr")
    assert len(a.ns("home")) <= 15  # fits wherever an interface-like name is needed
