"""A region's services as the backends start them, read before anything runs: a hub of three nodes
has a nats-server per node at an address of its own, and each island's leaf node lists every node
(its own first) through its one link relay, so cutting the island's link cuts them all."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from island.backends import LocalBackend, NetnsBackend, open_backend
from island.backends.base import BackendError
from island.backends.region import local_region, nats_conf, prepare, region_specs
from island.contract import HubNodeDown
from island.state import StateDir


def test_a_hub_cluster_is_a_nats_server_per_node_and_islands_start_on_different_nodes(tmp_path: Path) -> None:
    layout = local_region(3, privileged=False, net="127.77", hub_nodes=3)
    state, data = StateDir(tmp_path / "state"), tmp_path / "data"
    folder = prepare(layout, data)
    specs = {s.name: s for s in region_specs(layout, state, data)}
    nodes = ["nats-hub-n1", "nats-hub-n2", "nats-hub-n3"]
    assert [name for name in specs if name.startswith("nats-hub")] == nodes
    assert [specs[n].ports for n in nodes][1] == (
        ("127.77.9.2", 4222, "tcp"),
        ("127.77.9.2", 8222, "tcp"),
        ("127.77.9.2", 7422, "tcp"),
        ("127.77.9.2", 6222, "tcp"),
    )
    hub = json.loads(nats_conf(folder, "hub", "n2").read_text())
    assert hub["cluster"]["routes"] == ["nats://127.77.9.1:6222", "nats://127.77.9.3:6222"]
    # Island b starts on node n2, then tries n3 and n1; each through b's relay on that node's address.
    b = json.loads(nats_conf(folder, "b").read_text())["leafnodes"]["remotes"][0]
    assert b["urls"] == ["tls://127.77.9.2:7452", "tls://127.77.9.3:7472", "tls://127.77.9.1:7432"]
    assert b["dont_randomize"] is True
    link = specs["link-b"]
    assert link.config is not None and link.config["hosts"] == {
        "7432": "127.77.9.1",
        "7452": "127.77.9.2",
        "7472": "127.77.9.3",
    }


def test_a_hub_of_one_node_keeps_its_names(tmp_path: Path) -> None:
    layout = local_region(3, privileged=False, net="127.77")
    names = [s.name for s in region_specs(layout, StateDir(tmp_path), tmp_path)]
    assert "nats-hub" in names and not any(n.startswith("nats-hub-") for n in names)
    assert layout.describe() == "the hub and 3 islands (a, b, c)"
    assert (
        local_region(3, False, "127.77", 3).describe()
        == "the hub (3 nodes: n1, n2, n3) and 3 islands (a, b, c)"
    )


def test_one_hub_node_down_needs_a_cluster_and_says_how_to_start_one(tmp_path: Path) -> None:
    backend = LocalBackend(StateDir(tmp_path), islands=3)
    with pytest.raises(
        BackendError, match=r"the hub has no node n2: it is one node \(`island up --islands N"
    ):
        asyncio.run(backend.apply(HubNodeDown(type="hub-node-down", node="n2")))
    with pytest.raises(BackendError, match="--hub-nodes 3 is a region's hub: add --islands N"):
        open_backend("local", StateDir(tmp_path), hub_nodes=3)


def test_places_follow_the_topology(tmp_path: Path) -> None:
    one = ("trygghetspunkt-a", "trygghetspunkt-b", "home")
    assert LocalBackend(StateDir(tmp_path)).places == NetnsBackend(StateDir(tmp_path)).places == one
    region = ("trygghetspunkt-a", "trygghetspunkt-b", "trygghetspunkt-c")
    assert NetnsBackend(StateDir(tmp_path), islands=3).places == region
    assert "place:trygghetspunkt-c" not in NetnsBackend(StateDir(tmp_path)).features()
    cluster = NetnsBackend(StateDir(tmp_path), islands=3, hub_nodes=3)
    assert {"hub-nodes:3", "islands:3", "hub-node-down"} <= cluster.features()


def test_a_data_folder_keeps_the_hub_it_was_made_with(tmp_path: Path) -> None:
    prepare(local_region(2, privileged=False, net="127.77"), tmp_path)
    with pytest.raises(
        BackendError, match=r"whose hub has 1 node, not 3: start it as it was \(--hub-nodes 1\)"
    ):
        prepare(local_region(2, privileged=False, net="127.77", hub_nodes=3), tmp_path)
    prepare(local_region(3, privileged=False, net="127.77"), tmp_path)  # another island is fine
