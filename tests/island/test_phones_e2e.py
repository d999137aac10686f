"""Phones of every OS join the Wi-Fi before, during and after a cut, on the local backend.

The scenario (scenarios/phones-join-wifi.yaml) requires each OS's verdict per phase; this test
also holds the timings of issue 15 from the journal: portal within 5 s of the cut, online again
within 10 s of the restore, every sign-in sheet on the crisis page, and no "no internet" at any
point of the cut.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from island_test_helpers import island_cli, island_net

from island.probes import SIMULATED_JOIN

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SYSTEMS = ("android", "apple", "windows", "firefox", "networkmanager")


def test_every_os_sees_the_portal_during_a_cut_and_the_internet_after(tmp_path: Path) -> None:
    cli = island_cli(tmp_path / "island", island_net(6))
    run = cli.run(
        "scenario",
        "run",
        str(ROOT / "scenarios/phones-join-wifi.yaml"),
        "--backend",
        "local",
        "--out",
        str(tmp_path / "out"),
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    journal = json.loads((tmp_path / "out/phones-join-wifi/journal.json").read_text(encoding="utf-8"))
    cut = next(e["t"] for e in journal["events"] if e["kind"] == "fault-on")
    restored = next(e["t"] for e in journal["events"] if e["kind"] == "fault-off")
    for system in SYSTEMS:
        ops = [o for o in journal["operations"] if o["probe"] == system]
        before = [o for o in ops if o["t"] + o["latency_ms"] / 1000 < cut]
        assert before and all(o["detail"].startswith("online") for o in before), system
        during = [o for o in ops if cut <= o["t"] and o["t"] + o["latency_ms"] / 1000 < restored]
        portal = [o for o in during if o["detail"].startswith("portal")]
        assert portal, system
        # Not even in the seconds before the island notices the cut does a phone see "no internet".
        assert all(o["status"] == "ok" for o in during), [o["detail"] for o in during if o["status"] != "ok"]
        assert portal[0]["t"] + portal[0]["latency_ms"] / 1000 - cut <= 5.0, (
            f"{system}: portal later than 5 s"
        )
        # Once the island has noticed, it stays noticed: no "no internet" after the first portal.
        assert all(o["detail"].startswith("portal") for o in during if o["t"] > portal[0]["t"]), system
        assert all(o["detail"] == "portal http://krisinfo.kommun.example/" for o in portal), portal[0]
        after = [o for o in ops if o["t"] >= restored]
        online = [o for o in after if o["detail"].startswith("online")]
        assert online and online[0]["t"] + online[0]["latency_ms"] / 1000 - restored <= 10.0, system
        assert not any(o["detail"].startswith("no-internet") for o in ops), system
    # The local backend has no DHCP: a phone that joins is simulated, and says so (netns joins for real).
    for probe in ("android-joins", "apple-joins"):
        joins = [o for o in journal["operations"] if o["probe"] == probe]
        assert joins and all(o["detail"].endswith(f"({SIMULATED_JOIN})") for o in joins), probe
        assert not any("lease" in o for o in joins), probe
    # The report says the same in words and in JSON.
    report = json.loads((tmp_path / "out/phones-join-wifi/report.json").read_text(encoding="utf-8"))
    phones = report["phones"]
    assert phones["island_mode_s"] is not None and phones["island_mode_s"] <= 5.0, phones
    assert phones["no_internet_in_island_mode"] == [] and phones["no_internet_before"] == 0, phones
    assert 'No phone saw "no internet" at any point of the cut.' in run.stdout
    assert phones["simulated_joins"] > 0 and phones["join_ms"] == [], phones
    assert "DHCP join: simulated for " in run.stdout
