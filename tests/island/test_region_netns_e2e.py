"""The region on the netns backend, through the real `island` command: the hub on the stadsnät and one
namespace per island; the region's scenario (C's link to the hub cut by nft rules in the router)
and the one-hub-node-down scenario (a hub of three nodes, one killed) each pass on a region they
start themselves, and leave no namespace behind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from island_test_helpers import IslandCLI, island_net
from tiers import require_tier

from island.backends import _netns
from island.backends.netns import NetnsBackend
from island.state import StateDir

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def run_on_netns(tmp_path: Path, scenario: str, offset: int, says: str) -> list[dict]:
    """Run a shipped region scenario on a region of its own; its journal's operations. Nothing stays behind."""
    require_tier("netns", _netns.unavailable_reason())
    cli = IslandCLI(tmp_path / "state", island_net(offset))
    path = ROOT / "scenarios" / f"{scenario}.yaml"
    run = cli.run("scenario", "run", str(path), "--backend", "netns", "--out", str(tmp_path), timeout=300)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr
    assert says in run.stdout
    assert _netns.existing(NetnsBackend(StateDir(cli.state_dir)).prefix) == []
    operations: list[dict] = json.loads((tmp_path / scenario / "journal.json").read_text())["operations"]
    return operations


def test_the_region_scenario_passes_on_netns(tmp_path: Path) -> None:
    operations = run_on_netns(tmp_path, "region-partition", 13, "a region: the hub and 3 islands (a, b, c)")
    healed = [o for o in operations if o["phase"] == "healed" and o["probe"] == "hub-message-at-c"]
    assert healed and all(o["status"] == "ok" for o in healed)


def test_with_one_hub_node_down_the_region_goes_on_on_netns(tmp_path: Path) -> None:
    says = "a region: the hub (3 nodes: n1, n2, n3) and 3 islands (a, b, c)"
    operations = run_on_netns(tmp_path, "region-hub-node-down", 14, says)
    during = [o for o in operations if o["phase"] == "node-down" and o["probe"] == "find-node-down-at-c"]
    assert any(o["status"] == "ok" for o in during)  # found at C while n1 was down
