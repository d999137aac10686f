"""A bad scenario file is refused with the file, the line and the field."""

from __future__ import annotations

from pathlib import Path

import pytest
from scenario_test_helpers import HEAD, SHIPPED, parse, refused

from island.scenario import ScenarioError, load_scenario

GOOD = (
    HEAD
    + """\
      - {type: uplink-cut, mode: reject}
    expect:
      crisis-dns: {min_success: 0.9, max_p95_ms: 50}
"""
)


def test_a_good_scenario_loads_with_its_values() -> None:
    scenario = parse(GOOD)
    assert scenario.phases[0].faults[0].mode == "reject"
    assert scenario.phases[0].expect["crisis-dns"].max_p95_ms == 50
    assert scenario.duration == 2


def test_unknown_field_names_file_line_and_field() -> None:
    assert refused(GOOD.replace("    faults:", "    fualts:")) == [
        "s.yaml:8: phases[0].fualts: unknown field"
    ]


def test_wrong_type_names_the_line_of_the_value() -> None:
    [line] = refused(GOOD.replace("duration: 2", "duration: soon"))
    assert line.startswith("s.yaml:7: phases[0].duration: ")


def test_unknown_fault_mode_and_type() -> None:
    lines = refused(GOOD.replace("mode: reject", "mode: sideways"))
    assert lines[0].startswith("s.yaml:9: phases[0].faults[0].mode: Input should be 'blackhole' or 'reject'")
    lines = refused(GOOD.replace("type: uplink-cut, mode: reject", "type: meteor"))
    assert lines[0].startswith("s.yaml:9: phases[0].faults[0]: ") and "meteor" in lines[0]


def test_every_problem_is_listed() -> None:
    lines = refused(GOOD.replace("duration: 2", "duration: -1").replace("    faults:", "    fualts:"))
    assert len(lines) == 2


def test_missing_field_points_at_its_parent() -> None:
    [line] = refused(GOOD.replace("    duration: 2\n", ""))
    assert line.startswith("s.yaml:6: phases[0].duration: Field required")


def test_expecting_an_unknown_probe_names_the_probes() -> None:
    [line] = refused(GOOD.replace("      crisis-dns: {min", "      crisis-web: {min"))
    assert "unknown probe crisis-web" in line and "probes are crisis-dns" in line


def test_not_yaml_gives_the_line() -> None:
    [line] = refused("title: t\nprobes: [\n")
    assert line.startswith("s.yaml:3: not valid YAML")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot read the file"):
        load_scenario(tmp_path / "nothing.yaml")


def test_the_shipped_scenarios_are_found() -> None:
    # Each one is loaded by test_scenario_model.py's parametrized test; an empty list would run none.
    assert SHIPPED, "scenarios/ has scenario files"


def test_a_phone_joins_only_a_trygghetspunkts_wifi() -> None:
    joining = GOOD.replace('dns: {name: "{crisis_name}"}', "phone: {os: android, join: true}")
    assert parse(joining).probes[0].phone.join  # type: ignore[union-attr]
    [line] = refused(joining.replace("  - name: crisis-dns\n", "  - name: crisis-dns\n    place: home\n"))
    assert line.startswith("s.yaml:3: probes[0]: ") and "joins a trygghetspunkt's Wi-Fi" in line, line
    [line] = refused(joining.replace("join: true", "join: maybe"))
    assert line.startswith("s.yaml:4: probes[0].phone.join: "), line
