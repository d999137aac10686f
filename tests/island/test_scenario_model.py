"""The scenario format: the fault catalogue, errors with file, line and field, and the published schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from island.backends import LocalBackend, NetnsBackend, UnsupportedFault
from island.scenario.loader import ScenarioError, load_scenario, parse_scenario
from island.scenario.model import Flapping, Latency, PacketLoss, Partition, ServiceFault, UplinkCut
from island.scenario.schema import schema_text
from island.state import StateDir

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))

HEAD = """title: t
probes:
  - name: crisis-dns
    dns: {name: "{crisis_name}"}
phases:
  - name: during
    duration: 2
    faults:
"""


def faults_of(text: str):
    return parse_scenario(HEAD + text, Path("s.yaml")).phases[0].faults


def test_every_fault_type_parses_into_its_own_model() -> None:
    faults = faults_of(
        "      - {type: uplink-cut, mode: reject}\n"
        "      - {type: packet-loss, percent: 30}\n"
        "      - {type: latency, delay_ms: 2000, jitter_ms: 100, duration: 3}\n"
        "      - {type: flapping, period: 4, duty: 0.25}\n"
        "      - {type: partition, between: [trygghetspunkt-a, home]}\n"
        "      - {type: service, service: resolver, action: pause}\n"
    )
    assert [type(f) for f in faults] == [UplinkCut, PacketLoss, Latency, Flapping, Partition, ServiceFault]
    assert faults[2].duration == 3 and faults[0].duration is None
    assert faults[3].cut() == UplinkCut(type="uplink-cut", mode="blackhole")
    assert [f.describe() for f in faults][:3] == [
        "uplink cut (reject)", "packet loss 30 %", "upstream latency 2000 ± 100 ms",
    ]


@pytest.mark.parametrize(
    ("fault", "line", "field", "message"),
    [
        ("      - {type: earthquake}\n", 9, "phases[0].faults[0]", "does not match any of the expected tags"),
        ("      - {type: packet-loss, percent: 130}\n", 9, "phases[0].faults[0].percent", "less than or equal to 100"),
        ("      - type: flapping\n        period: 4\n        dutty: 0.5\n", 11, "phases[0].faults[0].dutty",
         "unknown field"),
        ("      - {type: partition, between: [home, home]}\n", 9, "phases[0].faults[0]", "two different places"),
    ],
)
def test_a_bad_fault_is_named_by_file_line_and_field(fault: str, line: int, field: str, message: str) -> None:
    with pytest.raises(ScenarioError) as refused:
        faults_of(fault)
    text = str(refused.value)
    assert text.startswith(f"s.yaml:{line}: {field}"), text
    assert message in text


def test_a_probe_has_exactly_one_kind() -> None:
    with pytest.raises(ScenarioError, match="exactly one of dns, http, reach or registry"):
        parse_scenario(HEAD.replace('dns: {name: "{crisis_name}"}', 'dns: {name: a}\n    reach: {place: home}')
                       + "      - {type: uplink-cut}\n", Path("s.yaml"))


def test_load_sets_the_probe_rate() -> None:
    scenario = parse_scenario("load: {rate: 20}\n" + HEAD + "      - {type: uplink-cut}\n", Path("s.yaml"))
    assert scenario.period == pytest.approx(0.05)


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_every_shipped_scenario_loads_and_is_short(path: Path) -> None:
    scenario = load_scenario(path)
    assert scenario.duration <= 30, "library scenarios stay short so the netns tier runs them all"
    assert scenario.description


def test_the_published_schema_is_the_generated_one() -> None:
    committed = (ROOT / "docs" / "scenario.schema.json").read_text(encoding="utf-8")
    assert committed == schema_text(), "regenerate it: island scenario schema > docs/scenario.schema.json"
    schema = json.loads(committed)
    assert "rollbacks" in schema["properties"] and "load" in schema["properties"]
    fault_tags = {s["properties"]["type"]["const"] for s in schema["$defs"].values()
                  if "type" in s.get("properties", {}) and "const" in s["properties"]["type"]}
    assert {"uplink-cut", "dns-cut", "packet-loss", "bandwidth", "latency", "flapping", "partition",
            "service", "link-down"} <= fault_tags


def test_a_backend_refuses_what_it_cannot_do_naming_fault_and_backend(tmp_path: Path) -> None:
    backend = LocalBackend(StateDir(tmp_path))
    scenario = load_scenario(ROOT / "scenarios" / "thin-uplink.yaml")
    with pytest.raises(UnsupportedFault) as refused:
        backend.check_scenario(scenario)
    assert "the local backend cannot apply: bandwidth 256 kbit/s (bandwidth)" in str(refused.value)
    backend.check_scenario(load_scenario(ROOT / "scenarios" / "flapping-uplink.yaml"))  # flapping = cuts


def test_the_netns_backend_can_do_every_shipped_scenario(tmp_path: Path) -> None:
    backend = NetnsBackend(StateDir(tmp_path))
    for path in SCENARIOS:
        backend.check_scenario(load_scenario(path))


def test_two_state_folders_get_different_namespace_names(tmp_path: Path) -> None:
    a, b = NetnsBackend(StateDir(tmp_path / "a")), NetnsBackend(StateDir(tmp_path / "b"))
    assert a.prefix != b.prefix and a.prefix.startswith("odr")
    assert len(a.ns("home")) <= 15  # fits wherever an interface-like name is needed
