"""The engine alone, against a backend that only records what it is told (a unit test of the engine):
faults go on and off in order, flapping toggles, durations end early, and rollbacks always run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from island.backends.base import Backend, BackendError, UnsupportedFault
from island.backends.faults import FaultHandler, FaultTable, UplinkCutHandler
from island.contract import Outcome, PacketLoss
from island.scenario.analysis import evaluate
from island.scenario.engine import run_scenario
from island.scenario.loader import parse_scenario
from island.state import StateDir
from island.topology.local import local_addresses


class RecordLoss(FaultHandler["Recorder", PacketLoss]):
    fault = PacketLoss

    async def apply(self, backend: Recorder, fault: PacketLoss) -> None:
        backend.log.append(f"loss {fault.percent}")

    async def heal(self, backend: Recorder, fault: PacketLoss) -> None:
        backend.log.append("loss 0")


class Recorder(Backend):
    """Registers its fault handlers in a table, as every backend does; cuts by recording them."""

    name = "recorder"
    faults = FaultTable([UplinkCutHandler(), RecordLoss()])

    def __init__(self, tmp: Path, fail_on: str | None = None) -> None:
        super().__init__(StateDir(tmp), local_addresses(net="127.1"))
        self.log: list[str] = []
        self.fail_on = fail_on

    async def start(self, say) -> None: ...
    def is_running(self) -> bool:
        return True

    async def stop(self, say) -> None: ...
    async def status(self) -> dict[str, Any]:
        return {}

    async def cut(self, mode: str) -> None:
        self.log.append(f"cut {mode}")

    async def restore(self) -> None:
        self.log.append("restore")

    async def uplink(self) -> str:
        return "up"

    async def probe(self, probe) -> Outcome:
        return Outcome("ok", 0.1)

    async def apply(self, fault) -> None:
        if fault.describe() == self.fail_on:
            raise BackendError("the fault broke")
        await super().apply(fault)


def scenario(faults: str, rollbacks: str = "[]"):
    return parse_scenario(
        f"""title: t
interval: 0.05
probes: [{{name: p, dns: {{name: x}}}}]
phases:
  - {{name: before, duration: 0.2}}
  - {{name: during, duration: 1.0, faults: {faults}}}
rollbacks: {rollbacks}
""",
        Path("t.yaml"),
    )


async def test_faults_go_on_and_off_in_order(tmp_path: Path) -> None:
    backend = Recorder(tmp_path)
    journal = await run_scenario(
        scenario(
            "[{type: uplink-cut}, {type: packet-loss, percent: 5, duration: 0.3}]", "[{type: uplink-cut}]"
        ),
        Path("t.yaml"),
        backend,
    )
    assert backend.log == ["cut blackhole", "loss 5", "loss 0", "restore", "restore"]
    kinds = [(e.kind, e.detail) for e in journal.events if e.kind not in ("phase-start", "phase-end")]
    assert kinds == [
        ("fault-on", "uplink cut (blackhole)"),
        ("fault-on", "packet loss 5 %"),
        ("fault-off", "packet loss 5 %"),
        ("fault-off", "uplink cut (blackhole)"),
        ("rollback", "uplink cut (blackhole)"),
    ]
    assert {o.phase for o in journal.operations} == {"before", "during"}


async def test_flapping_toggles_the_cut_and_ends_healed(tmp_path: Path) -> None:
    backend = Recorder(tmp_path)
    journal = await run_scenario(
        scenario("[{type: flapping, period: 0.4, duty: 0.5, mode: reject}]"), Path("t.yaml"), backend
    )
    assert backend.log[:4] == ["cut reject", "restore", "cut reject", "restore"]
    assert backend.log[-1] == "restore"
    assert sum(e.kind == "flap-down" for e in journal.events) == backend.log.count("cut reject")


async def test_rollbacks_run_when_a_fault_fails(tmp_path: Path) -> None:
    backend = Recorder(tmp_path, fail_on="packet loss 5 %")
    plan = scenario("[{type: uplink-cut}, {type: packet-loss, percent: 5}]")
    journal = await run_scenario(plan, Path("t.yaml"), backend)
    assert backend.log[0] == "cut blackhole" and "restore" in backend.log
    errors = [e.detail for e in journal.events if e.kind == "error"]
    assert errors == ["BackendError: the fault broke"]
    result = evaluate(journal, plan)
    assert not result.passed and result.problems == ("BackendError: the fault broke",)
    assert backend.log.count("loss 0") == 1, "a fault whose apply failed is healed all the same"


async def test_a_fault_the_backend_cannot_do_is_refused_before_anything_runs(tmp_path: Path) -> None:
    backend = Recorder(tmp_path)
    with pytest.raises(UnsupportedFault, match="the recorder backend cannot apply: bandwidth 64 kbit/s"):
        await run_scenario(scenario("[{type: bandwidth, kbit: 64}]"), Path("t.yaml"), backend)
    assert backend.log == []


class SlowCut(Recorder):
    """Cutting takes a while (an nft command in a namespace); probing logs what the network was."""

    async def cut(self, mode: str) -> None:
        import asyncio

        await asyncio.sleep(0.1)
        await super().cut(mode)

    async def probe(self, probe) -> Outcome:
        self.log.append(
            "probe while " + ("cut" if "cut blackhole" in self.log and "restore" not in self.log else "up")
        )
        return Outcome("ok", 0.1)


async def test_the_first_phase_probes_only_once_its_faults_are_on(tmp_path: Path) -> None:
    backend = SlowCut(tmp_path)
    only_during = parse_scenario(
        """title: t
interval: 0.05
probes: [{name: p, dns: {name: x}}]
phases:
  - {name: during, duration: 0.3, faults: [{type: uplink-cut}]}
""",
        Path("t.yaml"),
    )
    await run_scenario(only_during, Path("t.yaml"), backend)
    probes = [entry for entry in backend.log if entry.startswith("probe")]
    assert probes and set(probes) == {"probe while cut"}, backend.log


class RegistryDesk(Recorder):
    """A registry in memory at two places: what each operation the engine hands over asks of it.

    Every second registration fails, so the test sees that only acknowledged residents are looked up.
    """

    def __init__(self, tmp: Path) -> None:
        super().__init__(tmp)
        self.records: dict[tuple[str, str], str] = {}  # (name, identifier) -> message
        self.registered: list[str] = []
        self.asked = 0
        self.looked_up: list[tuple[str, str, bool]] = []  # (place, name, already acknowledged then)

    places = ("trygghetspunkt-a", "trygghetspunkt-b")

    async def probe(self, probe) -> Outcome:
        check = probe.registry
        person = check.person
        if check.action == "register":
            self.asked += 1
            if self.asked % 2 == 0:
                return Outcome("fail", 0.1, "HTTP 500")
            self.records[(person.name, person.identifier)] = person.message
            self.registered.append(person.name)
            return Outcome("ok", 0.1)
        self.looked_up.append((probe.place, person.name, person.name in self.registered))
        identifier = person.identifier if check.identifier == "right" else person.wrong_identifier
        found = self.records.get((person.name, identifier)) == person.message
        return Outcome("ok" if found == (check.identifier == "right") else "fail", 0.1)


async def test_lookups_at_one_place_target_residents_registered_earlier_at_another(tmp_path: Path) -> None:
    backend = RegistryDesk(tmp_path)
    plan = parse_scenario(
        """title: t
interval: 0.02
probes:
  - {name: register-at-a, place: trygghetspunkt-a, registry: {action: register}}
  - {name: lookup-at-b, place: trygghetspunkt-b, registry: {action: lookup, of: register-at-a}}
  - {name: wrong-at-b, place: trygghetspunkt-b, registry: {action: lookup, of: register-at-a, identifier: wrong}}
phases:
  - {name: before, duration: 0.3}
  - {name: cut, duration: 0.3, faults: [{type: uplink-cut}]}
""",
        Path("t.yaml"),
    )
    journal = await run_scenario(plan, Path("t.yaml"), backend)
    assert len(backend.registered) >= 5 and len(set(backend.registered)) == len(backend.registered)
    assert backend.looked_up and all(place == "trygghetspunkt-b" for place, _, _ in backend.looked_up)
    assert all(acknowledged for _, _, acknowledged in backend.looked_up), (
        "only acknowledged residents are looked up"
    )
    # Each lookup probe walks the residents in order: the first few lookups are of the first residents.
    right = [name for place, name, _ in backend.looked_up][:2]
    assert backend.registered[0] in right
    lookups = [o for o in journal.operations if o.probe != "register-at-a"]
    assert lookups and all(o.status == "ok" for o in lookups), [o for o in lookups if o.status != "ok"]
    # A lookup with nobody registered yet is no operation: nothing is recorded before the first registration
    # (the first lookup loop turn, at the same instant, found nobody and waited for its next turn).
    first_ok = min(o.t for o in journal.operations if o.probe == "register-at-a" and o.status == "ok")
    assert all(o.t >= first_ok for o in lookups)
    assert {o.phase for o in lookups} == {"before", "cut"}


def test_residents_are_new_for_each_registration_and_each_run() -> None:
    from island.scenario.model import Probe
    from island.scenario.residents import Residents

    register = Probe(name="r", registry={"action": "register"})
    lookup = Probe(name="l", place="trygghetspunkt-b", registry={"action": "lookup", "of": "r"})
    first, second = Residents(), Residents()
    assert first.run_tag != second.run_tag
    assert first.operation(lookup) is None, "nobody to look up yet"
    made = [first.operation(register) for _ in range(30)]
    people = [op.registry.person for op in made]
    assert len({p.name for p in people}) == 30 and len({p.identifier for p in people}) == 30
    assert all(p.identifier != p.wrong_identifier for p in people)
    assert all(first.run_tag.capitalize() in p.name for p in people)
    assert not hasattr(register.registry, "person"), "the resident is the operation's, never the scenario's"
    for op, status in zip(made[:3], ("ok", "unknown", "ok")):
        first.settle(op, Outcome(status, 1.0))
    looked = [first.operation(lookup).registry.person for _ in range(3)]
    assert looked == [people[0], people[2], people[0]], (
        "acknowledged ones only, in order, then again from the start"
    )
