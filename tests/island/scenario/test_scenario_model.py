"""The scenario format: the fault catalogue, errors with file, line and field, and the published schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scenario_test_helpers import HEAD, SHIPPED, parse, refused

from island.scenario.loader import ScenarioError, load_scenario
from island.scenario.model import Flapping, Latency, PacketLoss, Partition, ServiceFault, UplinkCut
from island.scenario.schema import schema_text

ROOT = Path(__file__).resolve().parents[3]


def faults_of(text: str):
    return parse(HEAD + text).phases[0].faults


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
    assert (
        faults[3].feature == faults[3].cut().feature == "uplink-cut:blackhole"
    )  # a backend that cuts can flap
    assert [f.describe() for f in faults][:3] == [
        "uplink cut (reject)",
        "packet loss 30 %",
        "upstream latency 2000 ± 100 ms",
    ]


@pytest.mark.parametrize(
    ("fault", "line", "field", "message"),
    [
        ("      - {type: earthquake}\n", 9, "phases[0].faults[0]", "does not match any of the expected tags"),
        (
            "      - {type: packet-loss, percent: 130}\n",
            9,
            "phases[0].faults[0].percent",
            "less than or equal to 100",
        ),
        (
            "      - type: flapping\n        period: 4\n        dutty: 0.5\n",
            11,
            "phases[0].faults[0].dutty",
            "unknown field",
        ),
        (
            "      - {type: partition, between: [home, home]}\n",
            9,
            "phases[0].faults[0]",
            "two different places",
        ),
    ],
)
def test_a_bad_fault_is_named_by_file_line_and_field(fault: str, line: int, field: str, message: str) -> None:
    text = "\n".join(refused(HEAD + fault))
    assert text.startswith(f"s.yaml:{line}: {field}"), text
    assert message in text


def test_a_probe_has_exactly_one_kind() -> None:
    with pytest.raises(ScenarioError, match="exactly one of dns, http, reach, registry, phone or region"):
        parse(
            HEAD.replace('dns: {name: "{crisis_name}"}', "dns: {name: a}\n    reach: {place: home}")
            + "      - {type: uplink-cut}\n"
        )


def test_load_sets_the_probe_rate() -> None:
    scenario = parse("load: {rate: 20}\n" + HEAD + "      - {type: uplink-cut}\n")
    assert scenario.period == pytest.approx(0.05)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_shipped_scenario_loads_and_is_short(path: Path) -> None:
    scenario = load_scenario(path)
    assert scenario.duration <= 30, "library scenarios stay short so the netns tier runs them all"
    assert scenario.description


def test_the_published_schema_is_the_generated_one() -> None:
    committed = (ROOT / "docs" / "scenario.schema.json").read_text(encoding="utf-8")
    assert committed == schema_text(), "regenerate it: island scenario schema > docs/scenario.schema.json"
    schema = json.loads(committed)
    assert "rollbacks" in schema["properties"] and "load" in schema["properties"]
    fault_tags = {
        s["properties"]["type"]["const"]
        for s in schema["$defs"].values()
        if "type" in s.get("properties", {}) and "const" in s["properties"]["type"]
    }
    assert {
        "uplink-cut",
        "dns-cut",
        "packet-loss",
        "bandwidth",
        "latency",
        "flapping",
        "partition",
        "service",
        "link-down",
    } <= fault_tags
