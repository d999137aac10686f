"""The region's events into a registry, without a network: checked, applied once, refused into
the quarantine; and what an island writes lands in its outbox, what arrives from elsewhere does not."""

from __future__ import annotations

import json

import pytest

from services.crisis_site.registry import Registry
from services.region import events
from services.region.applier import Applier
from services.region.outbox import Deletion, Note, Outbox
from services.region.quarantine import Quarantine

ISLANDS = {"a": "Ö A", "b": "Ö B"}


@pytest.fixture
def place(tmp_path):
    """Island B's registry, outbox and applier, on one file."""
    path = str(tmp_path / "registry.sqlite")
    outbox = Outbox(path)
    registry = Registry(path)
    quarantine = Quarantine(path)
    yield registry, outbox, quarantine, Applier("b", registry, quarantine, ISLANDS)
    for thing in (outbox, registry, quarantine):
        thing.close()


class IslandA:
    """Island A's registry and outbox: `drain()` gives the events it publishes, (subject, data)."""

    def __init__(self, tmp_path) -> None:
        path = str(tmp_path / "a.sqlite")
        self.outbox, self.registry = Outbox(path), Registry(path)

    def drain(self) -> list[tuple[str, bytes]]:
        out = []
        pending = self.outbox.pending()
        for entry in pending:
            if isinstance(entry, Deletion):
                event: events.Event = events.deletion("a", entry.code_hash, entry.expires)
            else:
                event = events.note("a", entry.record, entry.update)
            out.append((events.subject_for(event), events.encode(event)))
        self.outbox.done([e.row for e in pending])
        return out


def written_at_a(tmp_path, *steps) -> list[tuple[str, bytes]]:
    island = IslandA(tmp_path)
    for step in steps:
        step(island.registry)
    return island.drain()


def test_a_registration_travels_without_phone_or_address_and_is_found_after_applying(tmp_path, place):
    registry, outbox, quarantine, applier = place
    sent = written_at_a(tmp_path, lambda r: r.register("Åsa Öberg", "070-123 45 67", ["safe"], "hej"))
    assert [s for s, _ in sent] == ["region.a.registry"]
    body = json.loads(sent[0][1])
    assert set(body) == {"v", "id", "origin", "kind", "record", "message"}
    assert set(body["record"]) == {"key", "code_hash", "name", "created", "expires"}
    assert b"0701234567" not in sent[0][1] and b"123 45 67" not in sent[0][1]
    assert [applier.apply(s, d) for s, d in sent] == ["applied"]
    [found] = registry.lookup("asa oberg", "+46 70 123 45 67")
    assert found.name == "Åsa Öberg" and found.updates[0].text == "hej"
    assert outbox.size() == 0  # what arrived from A is not published again by B


def test_a_replay_changes_nothing(tmp_path, place):
    registry, _, _, applier = place
    code: list[str] = []
    sent = written_at_a(
        tmp_path,
        lambda r: code.append(r.register("Bo Ek", "0701111111", ["safe"])),
        lambda r: r.add_update(code[0], ["at_point"]),
    )
    assert [applier.apply(s, d) for s, d in sent] == ["applied", "applied"]
    before = registry.counts()
    assert [applier.apply(s, d) for s, d in sent * 3] == ["unchanged"] * 6
    assert registry.counts() == before == {"records": 1, "registered_last_day": 1, "messages": 2}


def test_a_deletion_wins_over_earlier_and_late_messages(tmp_path, place):
    registry, _, _, applier = place
    a = IslandA(tmp_path)
    code = a.registry.register("Bo Ek", "0701111111", ["safe"])
    a.registry.add_update(code, ["at_point"])
    notes = a.drain()
    a.registry.delete(code)
    [deletion] = a.drain()
    assert deletion[0] == "region.a.registry" and json.loads(deletion[1])["kind"] == "delete"
    # The deletion arrives first (another path was faster): the messages that come later change nothing.
    assert applier.apply(*deletion) == "applied"
    assert [applier.apply(s, d) for s, d in notes] == ["unchanged", "unchanged"]
    assert registry.lookup("Bo Ek", "0701111111") == [] and registry.count() == 0


def test_bad_events_are_refused_kept_aside_and_change_nothing(place):
    registry, _, quarantine, applier = place
    registry.register("Bo Ek", "0701111111", ["safe"])
    before = registry.counts()
    good = json.loads(events.encode(events.deletion("a", "0" * 64, 1e12)))
    bad = [
        ("region.a.registry", b"\xff\xfe"),
        ("region.a.registry", json.dumps(good | {"v": 2}).encode()),
        ("region.a.registry", json.dumps(good | {"origin": "b"}).encode()),  # A speaking for B
        ("region.z.registry", json.dumps(good | {"origin": "z"}).encode()),  # no such island
        ("region.a.messages", json.dumps(good).encode()),  # a deletion on the messages subject
        ("region.a.registry", json.dumps(good | {"id": "d-other"}).encode()),  # id not its content
    ]
    assert [applier.apply(s, d) for s, d in bad] == ["refused"] * len(bad)
    assert registry.counts() == before
    assert quarantine.count() == len(bad) and applier.totals.refused == len(bad)
    reasons = [r.reason for r in reversed(quarantine.entries())]
    assert reasons == [
        "not JSON",
        "unknown version 2",
        "origin b published on a's subject",
        "z is not an island of this region",
        "kind delete on subject region.a.messages",
        "id does not match the content",
    ]


def test_the_outbox_holds_local_writes_in_order_until_published(place):
    registry, outbox, _, _ = place
    code = registry.register("Bo Ek", "0701111111", ["safe"])
    registry.delete(code)
    pending = outbox.pending()
    assert [type(e) for e in pending] == [Deletion]  # the note's record is gone: only the deletion travels
    outbox.done([e.row for e in pending])
    assert outbox.size() == 0
    registry.register("Cia Ek", "0702222222", ["safe"])
    [note] = outbox.pending()
    assert isinstance(note, Note) and note.record.name == "Cia Ek"
