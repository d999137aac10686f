"""The safe-and-well registry's store: normalisation, privacy of lookup, append-only, delete, expiry."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from site_helpers import Clock

from services.crisis_site.registry import Registry, RegistryError, normalise_identifier, normalise_name


@pytest.fixture
def reg(tmp_path, clock) -> Registry:
    r = Registry(tmp_path / "reg.sqlite3", ttl=3600.0, clock=clock)
    yield r
    r.close()


@pytest.mark.parametrize(
    "phone", ["070-123 45 67", "+46 70 123 45 67", "0046701234567", "+46 (0)70-1234567", "070.123.45.67"]
)
def test_swedish_phone_formats_are_one_number(phone: str) -> None:
    assert normalise_identifier(phone) == "tel:0701234567"


def test_names_and_addresses_ignore_case_accents_and_spaces() -> None:
    assert normalise_name("  ÅSA   Öberg-Lind ") == normalise_name("asa oberg lind")
    assert normalise_identifier("Storgatan 3, Ödsbyn") == normalise_identifier("storgatan  3 odsbyn")
    assert normalise_identifier("12") is None and normalise_identifier("") is None


def test_lookup_needs_the_exact_full_name_and_identifier(reg: Registry) -> None:
    reg.register("Åsa Öberg", "070-123 45 67", ["safe", "at_point"], "Allt väl <3")
    found = reg.lookup("asa OBERG", "+46701234567")
    assert [f.name for f in found] == ["Åsa Öberg"]
    assert found[0].updates[0].presets == ["safe", "at_point"] and found[0].updates[0].text == "Allt väl <3"
    # No partial match on either part, and a wrong identifier is the same miss as an unknown name.
    assert reg.lookup("Åsa", "070-123 45 67") == []
    assert reg.lookup("Åsa Öber", "070-123 45 67") == []
    assert reg.lookup("Åsa Öberg", "070-123 45 6") == []
    assert reg.lookup("Åsa Öberg", "070-123 45 68") == []
    assert reg.lookup("Ingen Alls", "070-123 45 67") == []
    assert reg.lookup("%", "%") == [] and reg.lookup("*", "070-123 45 67") == []


def test_updates_are_appended_and_cannot_be_changed(reg: Registry, clock: Clock) -> None:
    code = reg.register("Karl Berg", "Byvägen 1", ["safe"])
    clock.now += 60
    assert reg.add_update(code.lower().replace("-", " "), ["with_family"], "Hos syster")
    assert not reg.add_update("AAAA-AAAA-AAAA-AAAA", ["safe"])
    updates = reg.lookup("karl berg", "byvagen 1")[0].updates
    assert [(u.presets, u.text) for u in updates] == [(["safe"], ""), (["with_family"], "Hos syster")]
    assert updates[1].at - updates[0].at == 60
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        reg._db.execute("UPDATE registry_updates SET text = 'changed'")


def test_code_is_stored_only_as_a_hash(tmp_path, reg: Registry) -> None:
    code = reg.register("Karl Berg", "Byvägen 1", ["safe"])
    reg.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert code.encode() not in raw and code.replace("-", "").encode() not in raw


def test_delete_with_code_removes_everything(reg: Registry) -> None:
    code = reg.register("Karl Berg", "Byvägen 1", ["safe"])
    assert not reg.delete("WRONG-CODE")
    assert reg.lookup("Karl Berg", "Byvägen 1")
    assert reg.delete(code)
    assert reg.lookup("Karl Berg", "Byvägen 1") == [] and reg.count() == 0
    assert reg._db.execute("SELECT COUNT(*) FROM registry_updates").fetchone()[0] == 0
    assert not reg.delete(code)


def test_records_expire_and_are_deleted_for_real(reg: Registry, clock: Clock) -> None:
    code = reg.register("Karl Berg", "Byvägen 1", ["safe"])
    clock.now += 3599
    assert reg.lookup("Karl Berg", "Byvägen 1")
    clock.now += 1
    assert reg.lookup("Karl Berg", "Byvägen 1") == []
    assert not reg.add_update(code, ["safe"])
    reg.purge_expired()
    assert reg.count() == 0
    assert reg._db.execute("SELECT COUNT(*) FROM registry_updates").fetchone()[0] == 0


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        ({"name": ""}, {"name": "err_empty"}),
        ({"name": "x" * 101}, {"name": "err_long"}),
        ({"name": "12345"}, {"name": "err_name"}),
        ({"identifier": "123"}, {"identifier": "err_identifier"}),
        ({"identifier": "a" * 201}, {"identifier": "err_long"}),
        ({"presets": []}, {"presets": "err_no_preset"}),
        ({"presets": ["safe", "'; DROP TABLE registry_records; --"]}, {"presets": "err_preset"}),
        ({"text": "x" * 201}, {"text": "err_long"}),
    ],
)
def test_bad_fields_are_named(reg: Registry, fields: dict, bad: dict) -> None:
    entry = {"name": "Karl Berg", "identifier": "Byvägen 1", "presets": ["safe"], "text": "", **fields}
    with pytest.raises(RegistryError) as exc:
        reg.register(entry["name"], entry["identifier"], entry["presets"], entry["text"])
    assert exc.value.errors == bad
    assert reg.count() == 0


def test_export_import_round_trip_is_idempotent(tmp_path, reg: Registry, clock: Clock) -> None:
    code = reg.register("Åsa Öberg", "070-123 45 67", ["safe"], "Hej <b>")
    clock.now += 5
    reg.add_update(code, ["with_family"])
    reg.register("Karl Berg", "Byvägen 1", ["at_point"])
    lines = list(reg.export_lines())
    assert len(lines) == 2 and "0701234567" not in "".join(lines) and code not in "".join(lines)
    other = Registry(tmp_path / "other.sqlite3", ttl=3600.0, clock=clock)
    assert other.import_lines(lines) == 3
    assert other.import_lines(lines) == 0  # twice changes nothing
    assert other.count() == 2
    found = other.lookup("asa oberg", "+46 70 123 45 67")
    assert [(u.presets, u.text) for u in found[0].updates] == [(["safe"], "Hej <b>"), (["with_family"], "")]
    assert other.add_update(code, ["will_contact"])  # the person's code works on the other island too
    assert list(other.export_lines()) != lines and other.import_lines(lines) == 0
    other.close()


@pytest.mark.parametrize(
    "line",
    [
        "not json",
        "[]",
        '{"version": 2}',
        '{"version": 1, "key": "x", "code_hash": "' + "a" * 64 + '"}',
        '{"version": 1, "key": "' + "a" * 64 + '", "code_hash": "' + "b" * 64 + '", "name": "<x>\\u0000", '
        '"created": 1, "expires": 2, "updates": [{"at": 1, "presets": ["safe"], "text": ""}]}',
        '{"version": 1, "key": "' + "a" * 64 + '", "code_hash": "' + "b" * 64 + '", "name": "K", '
        '"created": 1, "expires": 2, "updates": [{"at": 1, "presets": ["evil"], "text": ""}]}',
    ],
)
def test_import_refuses_bad_lines_and_stores_nothing(reg: Registry, line: str) -> None:
    good = next(iter(_one_export()))
    with pytest.raises(ValueError, match="line 2"):
        reg.import_lines([good, line])
    assert reg.count() == 0


def _one_export() -> list[str]:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        r = Registry(Path(d) / "x.sqlite3")
        r.register("Karl Berg", "Byvägen 1", ["safe"])
        lines = list(r.export_lines())
        r.close()
    return lines


def test_lookups_do_not_wait_for_a_registration_being_committed(reg: Registry) -> None:
    reg.register("Anna Andersson", "070-111 22 33", ["safe"])
    writing, release = threading.Event(), threading.Event()

    def slow_registration(db: sqlite3.Connection) -> None:
        db.execute(
            "INSERT INTO registry_records (lookup_key, name, code_hash, created, expires) "
            "VALUES ('k', 'Bo Berg', 'c', 0, 9e99)"
        )
        writing.set()
        release.wait(5)  # a commit that takes its time (a slow disk's fsync)

    writer = threading.Thread(target=reg._transaction, args=(slow_registration,))
    writer.start()
    try:
        assert writing.wait(5)
        started = time.monotonic()
        found = reg.lookup("anna andersson", "0701112233")
        assert time.monotonic() - started < 1.0, "a lookup waited for another person's registration"
        assert [f.name for f in found] == ["Anna Andersson"]
    finally:
        release.set()
        writer.join(5)
    reg.register("Cecilia Carlsson", "070-444 55 66", ["safe"])
    assert [f.name for f in reg.lookup("Cecilia Carlsson", "0704445566")] == ["Cecilia Carlsson"], (
        "the reader sees what was committed after its last lookup"
    )
