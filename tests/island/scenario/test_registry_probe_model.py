"""The registry probe kind in the scenario format: a good one loads; a bad one is refused naming file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from island.contract import Operation, Person
from island.scenario import ScenarioError
from island.scenario.loader import parse_scenario

GOOD = """\
title: t
probes:
  - name: register-at-a
    place: trygghetspunkt-a
    registry: {action: register}
  - name: lookup-at-b
    place: trygghetspunkt-b
    registry:
      action: lookup
      of: register-at-a
      identifier: wrong
phases:
  - name: during
    duration: 2
    faults:
      - {type: uplink-cut}
"""


def refused(text: str) -> list[str]:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, Path("s.yaml"))
    return str(caught.value).splitlines()


def test_a_good_registry_scenario_loads_and_needs_both_places() -> None:
    scenario = parse_scenario(GOOD, Path("s.yaml"))
    register, lookup = (p.registry for p in scenario.probes)
    assert register.action == "register" and register.site == "http://{crisis_name}"
    assert (lookup.action, lookup.of, lookup.identifier) == ("lookup", "register-at-a", "wrong")
    assert {"place:trygghetspunkt-a", "place:trygghetspunkt-b"} <= scenario.features()


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("{action: register}", "{action: enrol}"),
            "s.yaml:5: probes[0].registry.action: Input should be 'register' or 'lookup'",
        ),
        (
            ("of: register-at-a", "of: lookup-at-b"),
            "s.yaml:10: probes[1].registry.of: no register probe is called lookup-at-b; register probes: register-at-a",
        ),
        (
            ("      of: register-at-a\n", ""),
            "s.yaml:8: probes[1].registry: Value error, a lookup needs of: the register probe whose residents it looks up",
        ),
        (
            ("identifier: wrong", "identifier: almost"),
            "s.yaml:11: probes[1].registry.identifier: Input should be 'right' or 'wrong'",
        ),
        (
            ("identifier: wrong", "idenitfier: wrong"),
            "s.yaml:11: probes[1].registry.idenitfier: unknown field",
        ),
        (
            ("{action: register}", "{action: register, identifier: wrong}"),
            "s.yaml:5: probes[0].registry: Value error, of and identifier are for lookups",
        ),
        (
            ("{action: register}", "{action: register, site: 'https://krisinfo'}"),
            "s.yaml:5: probes[0].registry.site: Value error, only an http:// site can be probed",
        ),
        (
            (
                "{action: register}",
                "{action: register, person: {name: A B, identifier: '070', wrong_identifier: '071', "
                "message: m}}",
            ),
            "s.yaml:5: probes[0].registry.person: unknown field",
        ),
    ],
)
def test_a_bad_registry_probe_is_named_by_file_line_and_field(change: tuple[str, str], expected: str) -> None:
    old, new = change
    assert old in GOOD
    lines = refused(GOOD.replace(old, new))
    assert any(line.startswith(expected) for line in lines), lines


def test_a_probe_is_registry_or_another_kind_never_both() -> None:
    [line] = refused(
        GOOD.replace(
            "    registry: {action: register}", "    registry: {action: register}\n    dns: {name: x}"
        )
    )
    assert line.startswith(
        "s.yaml:3: probes[0]: Value error, a probe has exactly one of dns, http, reach, registry, phone or region"
    )


def test_an_operation_with_its_resident_travels_as_json_to_a_probe_agent() -> None:
    # A probe agent (compose) validates the operation the engine sent, resident included.
    probe = parse_scenario(GOOD, Path("s.yaml")).probes[0]
    person = Person(
        name="Astrid Abc A", identifier="070-1234567", wrong_identifier="070-6234567", message="m"
    )
    operation = probe.operation(person)
    again = Operation.model_validate(operation.model_dump(mode="json"))
    assert again == operation and again.registry.person == person
    assert "of" not in operation.registry.model_dump(), "what only the engine needs stays in the scenario"
