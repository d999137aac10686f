"""Where Pebble is not installed (a laptop, `make demo` without root): HTTPS off with one reason, HTTP unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from island.certificates import https_off_reason, without_https_probes
from island.scenario.loader import load_scenario
from island.service_specs import island_services
from island.topology.local import local_addresses
from services.upstream import pebble

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


@pytest.fixture()
def no_pebble(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pebble, "installed", lambda: None)


def test_the_simulated_internet_has_no_public_ca_and_the_site_says_why(no_pebble: None) -> None:
    upstream, _, site = island_services(local_addresses(net="127.157", privileged=False))
    assert upstream.config is not None and "https" not in upstream.config and "acme" not in upstream.config
    assert site.config is not None
    assert site.config["tls"]["no_issuer"] == (
        "no public CA in the simulated internet: pebble is not installed (apt-get install pebble)"
    )
    assert "issuer_url" not in site.config["tls"]
    assert https_off_reason() == pebble.not_installed_reason()


def test_full_outage_runs_without_its_https_probe_and_keeps_every_other_check() -> None:
    scenario = load_scenario(SCENARIOS / "full-outage.yaml")
    plain, left_out = without_https_probes(scenario)
    assert left_out == ["crisis-page-https"]
    assert [p.name for p in plain.probes] == [
        p.name for p in scenario.probes if p.name != "crisis-page-https"
    ]
    for before, after in zip(scenario.phases, plain.phases):
        assert set(before.expect) - set(after.expect) <= {"crisis-page-https"}
        assert all(after.expect[k] == before.expect[k] for k in after.expect)
