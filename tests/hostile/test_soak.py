"""The soak: two minutes of a flapping uplink under steady resident load (the scenario's probes)
with background abuse beside it (every DNS attack at once, from an attacker on the residents'
Wi-Fi, the floods at a tenth of their single-attack rates). The scenario format has no attacker, so
the abuse runs beside the scenario run, on the tier's one island (conftest.py).
Not one crisis-page probe may fail."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hostile_helpers import HostileIsland

from bench.hostile.attacks_dns import background_abuse
from bench.hostile.resident import attack_running

pytestmark = [pytest.mark.e2e, pytest.mark.hostile]

SCENARIO = Path(__file__).parent / "scenarios" / "soak-hostile.yaml"


def test_two_minutes_of_flapping_uplink_and_abuse_fail_no_crisis_page_probe(
    island: HostileIsland, tmp_path: Path
) -> None:
    with attack_running(island.target, background_abuse) as sent:
        run = island.cli.run("scenario", "run", str(SCENARIO), "--out", str(tmp_path), timeout=300)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr
    assert sent()[0] > 50_000, "the abuse hardly ran"
    journal = json.loads((tmp_path / "soak-hostile" / "journal.json").read_text())
    pages = [o for o in journal["operations"] if o["probe"].startswith("crisis-page")]
    failed = [o for o in pages if o["status"] != "ok"]
    assert len(pages) > 600 and failed == [], f"{len(failed)} of {len(pages)} crisis-page probes failed"
    assert sum(e["kind"] == "flap-down" for e in journal["events"]) >= 25, "the uplink did not flap"
