"""A region on the local backend, through the real `island` command: `island up --islands 3
--hub-nodes 3` starts the hub (a cluster of three nats-servers) and three islands, `island status`
shows each place's replication, a registration at one island is found at another, the region goes
on with one hub node down and with the whole hub down; and the region's scenario passes on a region
(of one hub node) it starts itself."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from island_test_helpers import IslandCLI, island_cli, island_net, island_processes

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
PERSON = {"name": "Åsa Öberg", "identifier": "070-123 45 67", "presets": ["safe"], "text": "Vi är på skolan"}


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IslandCLI]:
    cli = island_cli(tmp_path_factory.mktemp("region"), island_net(11))
    try:
        up = cli.run("up", "--islands", "3", "--hub-nodes", "3", "--detach", timeout=180)
        assert up.returncode == 0, up.stdout + up.stderr
        assert "a region: the hub (3 nodes: n1, n2, n3) and 3 islands (a, b, c)" in up.stdout
        yield cli
    finally:
        cli.run("down", "--purge", "--yes")
    assert island_processes(cli) == []


def until(check, within: float = 20.0):
    deadline = time.monotonic() + within
    while not (value := check()) and time.monotonic() < deadline:
        time.sleep(0.2)
    return value


def site(status: dict, place: str) -> str:
    """A place's crisis site, as its services say where they are."""
    return status["services"][f"site-{place}"]["where"].rstrip("/")


def test_status_lists_the_hub_and_every_island_connected(region: IslandCLI) -> None:
    status = until(
        lambda: (s := region.status())["region"] and all(p["connected"] for p in s["region"].values()) and s
    )
    assert status, region.status()
    assert list(status["region"]) == ["hub", "a", "b", "c"]
    for place in ("a", "b", "c"):
        assert status["region"][place]["link"] == "up"
        for service in ("resolver", "site", "nats", "link", "replicator"):
            assert status["services"][f"{service}-{place}"]["running"]
    # The hub sees each island's leaf-node link too: on the editors' page and in its metrics.
    assert {n: i["connected"] for n, i in status["region"]["hub"]["islands"].items()} == dict.fromkeys(
        "abc", True
    )
    hub_metrics = httpx.get(status["services"]["replicator-hub"]["where"], trust_env=False).text
    assert 'region_island_connected{place="hub",island="c"} 1' in hub_metrics
    text = region.run("status").stdout
    assert re.search(
        r"^    c\s+connected\s+lag\s+\d+, last exchange \d\d:\d\d:\d\d UTC, link up$", text, re.M
    ), text


def test_a_registration_at_one_island_is_found_at_another_and_counted_in_metrics(region: IslandCLI) -> None:
    status = region.status()
    headers = {"Host": status["crisis_name"]}
    with httpx.Client(headers=headers, trust_env=False, timeout=5) as client:
        registered = client.post(site(status, "a") + "/anhoriga/registrera", data=PERSON)
        assert 'data-registry="registered"' in registered.text

        def found_at_c() -> bool:
            answer = client.post(
                site(status, "c") + "/anhoriga/sok",
                data={"name": PERSON["name"], "identifier": PERSON["identifier"]},
            )
            return "Vi är på skolan" in answer.text

        assert until(found_at_c, 10)
        applied = re.compile(r'^region_events_applied_total\{place="c",kind="note"\} [1-9]', re.M)
        # The replicator reports its state once a second.
        metrics = until(
            lambda: applied.search(m := client.get(status["services"]["replicator-c"]["where"]).text) and m, 5
        )
    assert metrics and 'region_connected{place="c"} 1' in metrics


def leaf_node(status: dict, island: str) -> str | None:
    """The hub node whose leaf-node listener island's link is connected to, as the nodes report it."""
    for node in ("n1", "n2", "n3"):
        host = status["services"][f"nats-hub-{node}"]["where"].split(":")[0]
        try:
            leafs = httpx.get(f"http://{host}:8222/leafz", trust_env=False, timeout=2).json()["leafs"]
        except httpx.HTTPError:
            continue  # a node that is down
        if any(leaf.get("name") == f"island-{island}" for leaf in leafs or []):
            return node
    return None


def test_with_one_hub_node_down_the_islands_leaf_links_move_and_the_region_keeps_replicating(
    region: IslandCLI, tmp_path: Path
) -> None:
    status = region.status()
    # The node island a's leaf link uses (each island lists every node, its own first; which one it is
    # on depends on which came up first) is the one taken down.
    node = until(lambda: leaf_node(status, "a"), 20)
    assert node, "island a's leaf link is on no hub node"
    shipped = (ROOT / "scenarios" / "region-hub-node-down.yaml").read_text()
    scenario = tmp_path / "region-hub-node-down.yaml"
    scenario.write_text(shipped.replace("node: n1", f"node: {node}"))
    run = region.run("scenario", "run", str(scenario), "--out", str(tmp_path), timeout=180)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr
    moved = leaf_node(status, "a")
    assert moved and moved != node, f"island a's leaf link stayed on {node}"
    journal = json.loads((tmp_path / "region-hub-node-down" / "journal.json").read_text())
    during = [
        o for o in journal["operations"] if o["phase"] == "node-down" and o["probe"] == "find-node-down-at-c"
    ]
    assert any(o["status"] == "ok" for o in during)
    assert region.status()["services"][f"nats-hub-{node}"]["running"]


def test_with_the_hub_down_the_islands_go_on_and_converge_once_it_is_back(
    region: IslandCLI, tmp_path: Path
) -> None:
    scenario = Path(__file__).parent / "scenarios" / "region-hub-down.yaml"
    run = region.run("scenario", "run", str(scenario), "--out", str(tmp_path), timeout=180)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr
    assert "Using the island that is already up" in run.stdout
    # Held down by the fault, the watchdog left them; healed, every node runs again.
    services = region.status()["services"]
    assert all(services[f"nats-hub-{node}"]["running"] for node in ("n1", "n2", "n3"))


def test_the_region_scenario_passes_on_a_region_it_starts(tmp_path: Path) -> None:
    cli = island_cli(tmp_path / "state", island_net(12))
    run = cli.run(
        "scenario",
        "run",
        str(ROOT / "scenarios" / "region-partition.yaml"),
        "--out",
        str(tmp_path),
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr
    assert "Verdict: PASSED" in run.stdout
    journal = json.loads((tmp_path / "region-partition" / "journal.json").read_text())
    healed = [o for o in journal["operations"] if o["phase"] == "healed" and o["probe"] == "region-converged"]
    assert healed and all(o["status"] == "ok" for o in healed)
    assert island_processes(cli) == []
