"""The contract stands alone: it imports nothing else from island, and no backend imports the scenario
package (the scenario converts into the contract; backends, probes and the probe agent speak only it)."""

from __future__ import annotations

import ast
from pathlib import Path

ISLAND = Path(__file__).resolve().parents[2] / "island"


def imported(path: Path) -> set[str]:
    """Every module ``path`` imports, relative ones spelled out from the island package."""
    package = ".".join(path.relative_to(ISLAND.parent).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(p for p in (base, node.module or "") if p)
            found |= {module} | {f"{module}.{alias.name}" for alias in node.names}
    return found


def test_the_contract_imports_nothing_else_from_island() -> None:
    assert not {m for m in imported(ISLAND / "contract.py") if m.split(".")[0] == "island"}


def test_no_backend_nor_probe_code_imports_the_scenario() -> None:
    speakers = [*sorted((ISLAND / "backends").glob("*.py")), ISLAND / "probes.py", ISLAND / "probe_agent.py"]
    offenders = {
        str(path.relative_to(ISLAND.parent)): sorted(
            m for m in imported(path) if m.startswith("island.scenario")
        )
        for path in speakers
    }
    assert {path: mods for path, mods in offenders.items() if mods} == {}


def test_the_scenario_probe_is_converted_and_carries_no_engine_field() -> None:
    from island.contract import Operation, Person
    from island.scenario.model import Probe

    probe = Probe(name="r", registry={"action": "lookup", "of": "reg", "identifier": "wrong"})
    person = Person(name="Maja Ek", identifier="070-1", wrong_identifier="070-2", message="OK")
    operation = probe.operation(person)
    assert isinstance(operation, Operation) and operation.registry is not None
    assert operation.registry.identifier == "wrong" and operation.registry.person == person
    assert "person" not in Probe.model_json_schema()["$defs"]["RegistryCheck"]["properties"]
