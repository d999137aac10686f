"""The island's certificate in plain sight: a scenario report warns when it would expire during such a cut."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from island.certificates import cut_seconds, describe, expiry_warning
from island.scenario.analysis import Result
from island.scenario.loader import load_scenario
from island.scenario.report import render_markdown, render_text

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
NOW = datetime(2026, 12, 3, 6, 0, tzinfo=UTC)


def tls(not_after: datetime) -> dict:
    return {
        "ca_file": "/state/public-ca.pem",
        "not_after": not_after.isoformat(timespec="seconds"),
        "days_left": (not_after - NOW).days,
        "names": ["krisinfo.kommun.example"],
        "issuer": "Pebble Intermediate CA 1",
        "https": "on",
        "reason": "",
        "renewal_error": "",
    }


def test_the_cut_of_full_outage_is_its_cut_phase() -> None:
    assert cut_seconds(load_scenario(SCENARIOS / "full-outage.yaml")) == 10


def test_a_certificate_expiring_within_the_cut_is_warned_about_in_both_reports() -> None:
    warning = expiry_warning(tls(NOW + timedelta(seconds=8)), 10, NOW)
    assert warning is not None
    assert warning.startswith(
        "the island's certificate for krisinfo.kommun.example expires at 2026-12-03T06:00:08+00:00, "
        "within a cut of this scenario's length (10 s)"
    )
    result = Result("Full outage", "full-outage", "local", (), warnings=(warning,))
    assert f"Warning: {warning}" in render_text(result)
    assert f"- **warning**: {warning}" in render_markdown(result)
    assert result.passed, "a warning does not fail the run"


def test_no_warning_when_it_outlives_the_cut_or_nothing_is_cut() -> None:
    assert expiry_warning(tls(NOW + timedelta(seconds=11)), 10, NOW) is None
    assert expiry_warning(tls(NOW + timedelta(seconds=1)), 0, NOW) is None
    assert expiry_warning({"not_after": None}, 10, NOW) is None


def test_status_line_says_days_left_issuer_and_names_or_why_https_is_off() -> None:
    line = describe(tls(NOW + timedelta(days=40)))
    assert line == (
        "HTTPS on, certificate for krisinfo.kommun.example from Pebble Intermediate CA 1, 40 days left "
        "(until 2027-01-12T06:00:00+00:00)"
    )
    off = {
        "not_after": None,
        "days_left": None,
        "https": "off",
        "reason": "tls/island.pem: no certificate yet",
    }
    assert describe(off) == "HTTPS off: tls/island.pem: no certificate yet (HTTP keeps answering)"
