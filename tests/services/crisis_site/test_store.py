"""The SQLite store: durable settings, acknowledged writes survive a crash, sync never touches island messages."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from services.crisis_site.app import DEMO_CONTENT
from services.crisis_site.content import Message, load_seed
from services.crisis_site.store import Store

ROOT = Path(__file__).resolve().parents[3]
NOW = datetime(2025, 1, 14, 12, 0, tzinfo=timezone(timedelta(hours=1)))


def message(identifier: str, headline: str = "Rubrik", **extra) -> Message:
    return Message.model_validate(
        {
            "identifier": identifier,
            "sender": "Krisledningen",
            "sent": NOW,
            "area": "Sjöbacka",
            "info": [{"language": "sv", "headline": headline, "description": "Text."}],
            **extra,
        }
    )


def seeded(tmp_path: Path) -> Store:
    store = Store(tmp_path / "site.sqlite3")
    store.seed(load_seed(DEMO_CONTENT))
    return store


def test_wal_and_full_sync(tmp_path: Path) -> None:
    store = seeded(tmp_path)
    assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_seed_only_fills_an_empty_store(tmp_path: Path) -> None:
    store = seeded(tmp_path)
    store.save_island_message(message("island-1"), "anna", "publish", "Rubrik")
    store.close()
    again = seeded(tmp_path)  # a restart with the same seed file
    assert {m.identifier for m in again.messages()} == {
        "sjobacka-2025-0001",
        "sjobacka-2025-0002",
        "island-1",
    }


def test_sync_replaces_central_messages_but_never_island_ones(tmp_path: Path) -> None:
    store = seeded(tmp_path)
    store.save_island_message(message("island-1", "Från ön"), "anna", "publish", "Från ön")
    version = store.version
    skipped = store.replace_central([message("c-1", "Central"), message("island-1", "Kapad")], NOW)
    assert skipped == ["island-1"]
    assert store.version > version
    by_id = {m.identifier: m for m in store.messages()}
    assert set(by_id) == {"c-1", "island-1"}  # the seed's central messages are gone with the feed
    assert by_id["island-1"].text("sv")[0].headline == "Från ön" and by_id["island-1"].origin == "island"
    assert by_id["c-1"].origin == "central"
    assert store.content().next_update is None, "the seed's promise of a next update went with its text"


def test_a_cancel_in_the_feed_retires_what_it_references(tmp_path: Path) -> None:
    store = seeded(tmp_path)
    store.replace_central(
        [message("c-1", "Gammalt"), message("c-2", "Upphävt", msgType="Cancel", references="c-1")], NOW
    )
    content = store.content(now=NOW + timedelta(minutes=1))
    assert [m.identifier for m in content.messages] == []


def test_an_unchanged_feed_does_not_invalidate_the_page(tmp_path: Path) -> None:
    store = seeded(tmp_path)
    store.replace_central([message("c-1")], NOW)
    version = store.version
    store.replace_central([message("c-1")], NOW + timedelta(seconds=3))
    store.record_not_modified(NOW + timedelta(seconds=6))
    assert store.version == version
    assert store.content().sync.last_heard == NOW + timedelta(seconds=6)
    store.record_sync_failure("cannot reach the feed: ConnectTimeout")
    assert store.version == version + 1
    store.record_sync_failure("cannot reach the feed: ConnectTimeout")  # the same state again
    assert store.version == version + 1
    sync = store.content().sync
    assert sync.reachable is False and sync.last_heard == NOW + timedelta(seconds=6)


def test_the_cached_page_sees_its_own_writes_at_once_and_anothers_soon_after(tmp_path: Path) -> None:
    site = seeded(tmp_path)
    replicator = Store(tmp_path / "site.sqlite3")  # another connection to the file, as the replicator's
    version = site.recent_version
    site.save_island_message(message("island-1", "Från ön"), "anna", "publish", "Från ön")
    assert site.recent_version == version + 1, "the site's own write is seen by the next request"
    replicator.save_island_message(message("island-2", "Från hubben"), "hub", "publish", "Från hubben")
    deadline = time.monotonic() + 2.0
    while site.recent_version == version + 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert site.recent_version == version + 2, "another connection's commit reaches the page"
    assert time.monotonic() < deadline


def test_an_acknowledged_write_survives_a_crash(tmp_path: Path) -> None:
    db = tmp_path / "site.sqlite3"
    script = tmp_path / "writer.py"
    script.write_text(
        textwrap.dedent(f"""
        import sys, time
        from datetime import datetime, timezone
        from services.crisis_site.content import Message
        from services.crisis_site.store import Store
        store = Store({str(db)!r})
        m = Message.model_validate({{"identifier": "island-crash", "sender": "K", "sent": datetime.now(timezone.utc),
            "area": "A", "info": [{{"language": "sv", "headline": "Efter kraschen", "description": "D"}}]}})
        store.save_island_message(m, "anna", "publish", "Efter kraschen")
        print("acknowledged", flush=True)
        time.sleep(60)
    """),
        encoding="utf-8",
    )
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert proc.stdout.readline().strip() == "acknowledged"
        os.kill(proc.pid, signal.SIGKILL)  # no clean close, no checkpoint
    finally:
        proc.wait(timeout=10)
    assert (tmp_path / "site.sqlite3-wal").exists()
    # Read with plain sqlite3, as a fresh process after the crash would.
    rows = (
        sqlite3.connect(db)
        .execute("SELECT origin FROM messages WHERE identifier = 'island-crash'")
        .fetchall()
    )
    assert rows == [("island",)]
    audit = Store(db).audit_log()
    assert audit[0]["action"] == "publish" and audit[0]["username"] == "anna"
