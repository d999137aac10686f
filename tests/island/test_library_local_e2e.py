"""The scenario library on the local backend: every scenario whose faults it can do passes; the rest are
refused before anything starts, naming the fault and the backend."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from island_test_helpers import island_cli, island_net, island_processes

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
LIBRARY = sorted((ROOT / "scenarios").glob("*.yaml"))
NETNS_ONLY = {"partition", "thin-uplink"}
# A run of the whole library brings up one island: the region's scenarios (islands: 3) are skipped
# there, saying how to run them (tests/island/test_region_local_e2e.py runs them on a region).
REGION = {"region-partition", "region-hub-node-down"}


def test_unsupported_faults_are_refused_before_anything_starts(tmp_path: Path) -> None:
    cli = island_cli(tmp_path, island_net(3))
    run = cli.run("scenario", "run", str(ROOT / "scenarios" / "thin-uplink.yaml"), "--backend", "local")
    assert run.returncode == 2, run.stdout + run.stderr
    assert "the local backend cannot apply: bandwidth 256 kbit/s (bandwidth)" in run.stderr
    assert "Starting" not in run.stdout
    assert island_processes(cli) == []


def test_the_library_passes_on_the_local_backend(tmp_path: Path) -> None:
    cli = island_cli(tmp_path / "island", island_net(3))
    run = cli.run(
        "scenario",
        "run",
        *map(str, LIBRARY),
        "--backend",
        "local",
        "--skip-unsupported",
        "--out",
        str(tmp_path / "out"),
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr
    skipped = {
        Path(line.split()[1].rstrip(":")).stem
        for line in run.stdout.splitlines()
        if line.startswith("Skipped")
    }
    assert skipped == NETNS_ONLY | REGION
    # CI dashboards see the skipped ones too, with the reason, not just the ones that ran.
    suites = ET.parse(tmp_path / "out" / "junit.xml").getroot().findall("testsuite")
    assert len(suites) == len(LIBRARY)
    skipped_cases = [s.find("testcase/skipped") for s in suites if s.get("skipped") == "1"]
    assert len(skipped_cases) == len(NETNS_ONLY | REGION)
    reasons = sorted(case.get("message") for case in skipped_cases)
    assert sum("the local backend cannot apply" in r for r in reasons) == len(NETNS_ONLY)
    assert sum("needs a region of 3 islands" in r and "run it by itself" in r for r in reasons) == len(REGION)
    assert run.stdout.count("Verdict: PASSED") == len(LIBRARY) - len(NETNS_ONLY | REGION)

    # Faults that the relay makes really happened: loss lost some, latency was slow, flapping flapped.
    def ops(name: str, phase: str, probe: str) -> list[dict]:
        journal = json.loads((tmp_path / "out" / name / "journal.json").read_text())
        return [o for o in journal["operations"] if o["phase"] == phase and o["probe"] == probe]

    # Outside names are answered from the resolver's cache through any uplink trouble; the
    # outside page is not, so it shows what the uplink does.
    lossy = ops("lossy-uplink", "lossy", "outside-page")
    assert any(o["status"] != "ok" for o in lossy) and any(o["status"] == "ok" for o in lossy)
    assert min(o["latency_ms"] for o in ops("slow-upstream", "slow", "outside-page")) > 1000
    flapping = json.loads((tmp_path / "out" / "flapping-uplink" / "journal.json").read_text())
    assert sum(e["kind"] == "flap-down" for e in flapping["events"]) >= 3
    assert island_processes(cli) == []


def test_service_faults_are_real_and_healed_on_the_local_backend(tmp_path: Path) -> None:
    cli = island_cli(tmp_path / "island", island_net(4))
    scenario = Path(__file__).parent / "scenarios" / "service-faults.yaml"
    run = cli.run("scenario", "run", str(scenario), "--backend", "local", "--out", str(tmp_path / "out"))
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr
    journal = json.loads((tmp_path / "out" / "service-faults" / "journal.json").read_text())
    paused = [
        o["status"] for o in journal["operations"] if o["phase"] == "paused" and o["probe"] == "crisis-dns"
    ]
    assert paused and set(paused) == {"unknown"}, "a paused resolver answers nothing: the outcome is unknown"
    killed = [o for o in journal["operations"] if o["phase"] == "killed" and o["probe"] == "crisis-page"]
    assert killed and not any(o["status"] == "ok" for o in killed)
    assert any("refused" in o["detail"].lower() for o in killed), "a killed site refuses connections"
    assert island_processes(cli) == []
