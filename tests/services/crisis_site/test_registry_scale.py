"""The registry's rare operations stay flat as it grows: streaming export and import, expiry in
the background (never in a resident's request), staff counts that need no scan."""

from __future__ import annotations

import json
import time
import tracemalloc
from pathlib import Path

import pytest
from site_helpers import Clock

from services.crisis_site import registry as registry_module
from services.crisis_site.pfif import export_pfif, import_pfif
from services.crisis_site.registry import PortableRecord, PortableUpdate, Registry


def people(first: int, last: int, now: float, expires_in: float = 3600.0):
    """Records as another island would send them (keys made up: only their shape matters here)."""
    for i in range(first, last):
        yield PortableRecord(
            f"{i:064x}",
            f"Person {i}",
            f"{i + 10**9:064x}",
            now,
            now + expires_in,
            [PortableUpdate(now, ["safe"], f"Hälsning nummer {i}")],
        )


def export_peak(reg: Registry) -> tuple[int, int]:
    """(records exported, peak bytes Python allocated while exporting them as JSON lines)."""
    tracemalloc.start()
    try:
        count = sum(1 for _ in reg.export_lines())
        return count, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def fill(reg: Registry, first: int, last: int, now: float) -> None:
    """Many records in one transaction: quicker to set up than the import's durable batches."""
    reg._transaction(lambda db: registry_module._import_batch(db, list(people(first, last, now))))


def test_export_memory_does_not_grow_with_the_number_of_records(tmp_path: Path, clock: Clock) -> None:
    reg = Registry(tmp_path / "r.sqlite3", clock=clock, expire_every=None)
    fill(reg, 0, 1_000, clock.now)
    small, small_peak = export_peak(reg)
    fill(reg, 1_000, 10_000, clock.now)
    large, large_peak = export_peak(reg)
    reg.close()
    assert (small, large) == (1_000, 10_000)
    # Ten times the records, the same memory: the export holds one batch, never the whole list
    # (which at 10k records is about five megabytes).
    assert large_peak < 1.5 * small_peak and large_peak < 2 * 1024 * 1024


def test_export_streams_every_record_with_its_messages_in_order(tmp_path: Path, clock: Clock) -> None:
    reg = Registry(tmp_path / "r.sqlite3", clock=clock, expire_every=None)
    code = reg.register("Åsa Öberg", "070-123 45 67", ["safe"])
    reg.import_records(people(0, 1_234, clock.now))  # across several export batches
    clock.now += 5
    reg.add_update(code, ["with_family"], "Hos syster")
    lines = [json.loads(line) for line in reg.export_lines()]
    reg.close()
    assert len(lines) == 1_235 and lines[0]["name"] == "Åsa Öberg"
    assert [u["presets"] for u in lines[0]["updates"]] == [["safe"], ["with_family"]]
    assert [line["name"] for line in lines[1:]] == [f"Person {i}" for i in range(1_234)]
    assert all(len(line["updates"]) == 1 for line in lines[1:])


def test_a_large_import_is_checked_whole_before_any_batch_is_stored(tmp_path: Path, clock: Clock) -> None:
    source = Registry(tmp_path / "a.sqlite3", clock=clock, expire_every=None)
    source.import_records(people(0, 1_200, clock.now))
    lines = list(source.export_lines())
    source.close()
    target = Registry(tmp_path / "b.sqlite3", clock=clock, expire_every=None)
    with pytest.raises(ValueError, match="line 1201"):
        target.import_lines([*lines, "not json"])
    assert target.count() == 0  # the bad last line stopped it before the first batch
    assert target.import_lines(lines) == 1_200 and target.count() == 1_200
    target.close()


def test_expired_records_are_deleted_in_the_background_not_by_a_registration(
    tmp_path: Path, clock: Clock
) -> None:
    by_hand = Registry(tmp_path / "a.sqlite3", ttl=60.0, clock=clock, expire_every=None)
    by_hand.register("Karl Berg", "Byvägen 1", ["safe"])
    clock.now += 61
    by_hand.register("Anna Berg", "Byvägen 1", ["safe"])  # a resident's request sweeps nothing
    assert by_hand.count() == 2 and by_hand.lookup("Karl Berg", "Byvägen 1") == []
    by_hand.close()

    background = Registry(tmp_path / "b.sqlite3", ttl=60.0, clock=clock, expire_every=0.05)
    background.import_records(people(0, 700, clock.now, expires_in=30.0))  # several batches' worth
    background.register("Karl Berg", "Byvägen 1", ["safe"])
    clock.now += 31
    deadline = time.monotonic() + 10
    while background.count() > 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert background.count() == 1 and background.lookup("Karl Berg", "Byvägen 1")
    assert background._db.execute("SELECT COUNT(*) FROM registry_updates").fetchone()[0] == 1
    background.close()


def test_commits_leave_the_checkpoint_to_the_background(tmp_path: Path, clock: Clock) -> None:
    """A commit that finds the write-ahead log long does not copy it into the file (that copy and
    its sync would be some resident's registration): the background thread does, soon after."""
    path = tmp_path / "r.sqlite3"
    reg = Registry(path, clock=clock, expire_every=None, checkpoint_every=3600.0)  # not in this test
    before = path.stat().st_size
    reg.import_records(people(0, 10_000, clock.now))  # far over SQLite's 1,000 pages of log
    reg.register("Karl Berg", "Byvägen 1", ["safe"])
    assert (tmp_path / "r.sqlite3-wal").stat().st_size > 1_000 * 4096
    assert path.stat().st_size == before  # no commit checkpointed
    reg.close()

    background = Registry(path, clock=clock, expire_every=None, checkpoint_every=0.05)
    before = path.stat().st_size
    background.import_records(people(10_000, 12_000, clock.now))
    deadline = time.monotonic() + 10
    while path.stat().st_size == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert path.stat().st_size > before
    assert background.count() == 12_001
    background.close()


def test_staff_counts_leave_out_expired_records_before_and_after_the_sweep(
    tmp_path: Path, clock: Clock
) -> None:
    reg = Registry(tmp_path / "r.sqlite3", ttl=3600.0, clock=clock, expire_every=None)
    reg.import_records(people(0, 10, clock.now, expires_in=60.0))
    code = reg.register("Karl Berg", "Byvägen 1", ["safe"])
    reg.add_update(code, ["with_family"])
    assert reg.counts() == {"records": 11, "registered_last_day": 11, "messages": 12}
    clock.now += 61
    assert reg.counts() == {"records": 1, "registered_last_day": 11, "messages": 2}
    assert reg.purge_expired() == 10
    assert reg.counts() == {"records": 1, "registered_last_day": 11, "messages": 2}
    reg.delete(code)
    clock.now += 25 * 3600
    assert reg.counts() == {"records": 0, "registered_last_day": 0, "messages": 0}
    reg.close()


def test_counts_of_a_file_made_before_the_counters_are_right(tmp_path: Path, clock: Clock) -> None:
    reg = Registry(tmp_path / "r.sqlite3", clock=clock, expire_every=None)
    reg.import_records(people(0, 5, clock.now))
    for name in ("record_in", "record_out", "message_in", "message_out"):  # as a file made before them
        reg._db.execute(f"DROP TRIGGER registry_counts_{name}")
    reg._db.executescript("DROP TABLE registry_counts; DROP TABLE registry_hours;")
    reg.close()
    reopened = Registry(tmp_path / "r.sqlite3", clock=clock, expire_every=None)
    assert reopened.counts() == {"records": 5, "registered_last_day": 5, "messages": 5}
    reopened.close()


def test_pfif_streams_both_ways_and_notes_outside_their_person_still_arrive(
    tmp_path: Path, clock: Clock
) -> None:
    source = Registry(tmp_path / "a.sqlite3", clock=clock, expire_every=None)
    source.import_records(people(0, 600, clock.now))
    chunks = list(export_pfif(source.export_records(), "odsbyn.odrift.se", "Ödrift"))
    source.close()
    assert len(chunks) == 602  # the head, one chunk per person, the tail
    document = b"".join(chunks)
    # Move one person's note out of the person, after it: PFIF allows notes at the top level.
    start = document.index(b"<pfif:note>")
    end = document.index(b"</pfif:note>", start) + len(b"</pfif:note>")
    note = document[start:end]
    moved = document[:start] + document[end:].replace(b"</pfif:pfif>", note + b"</pfif:pfif>")
    target = Registry(tmp_path / "b.sqlite3", clock=clock, expire_every=None)
    added, report = import_pfif(target, moved)
    assert added == 600 and report.records == 600 and report.skipped == []
    assert target.counts()["messages"] == 600
    target.close()


def test_import_batches_are_short_transactions(tmp_path: Path, clock: Clock, monkeypatch) -> None:
    monkeypatch.setattr(registry_module, "IMPORT_BATCH", 100)
    reg = Registry(tmp_path / "r.sqlite3", clock=clock, expire_every=None)
    commits = []
    reg._db.set_trace_callback(lambda sql: commits.append(sql) if sql == "COMMIT" else None)
    reg.import_records(people(0, 1_000, clock.now))
    reg.close()
    assert len(commits) == 10
