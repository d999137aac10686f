"""What this island wrote to its registry and has not yet put into its own stream.

SQLite triggers fill the outbox in the same transaction as the registry's own write, so the
site needs no change and nothing written here can be forgotten, even across a crash: the
replicator publishes the outbox in order and removes a row only once JetStream has stored it.
Writes that arrived from other islands (registry_applying holds a row then) are not echoed back.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from services.crisis_site.registry import PortableRecord, PortableUpdate, Registry

_SCHEMA = """
CREATE TABLE IF NOT EXISTS region_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('note', 'delete')),
    update_id INTEGER,     -- note: the registry_updates row
    code_hash TEXT,        -- delete: the record's code hash and when it would have expired
    expires REAL
);
CREATE TRIGGER IF NOT EXISTS region_outbox_note AFTER INSERT ON registry_updates
WHEN NOT EXISTS (SELECT 1 FROM registry_applying)
BEGIN INSERT INTO region_outbox (kind, update_id) VALUES ('note', NEW.id); END;
CREATE TRIGGER IF NOT EXISTS region_outbox_delete AFTER DELETE ON registry_records
WHEN NOT EXISTS (SELECT 1 FROM registry_applying)
BEGIN INSERT INTO region_outbox (kind, code_hash, expires) VALUES ('delete', OLD.code_hash, OLD.expires); END;
"""


@dataclass(frozen=True)
class Note:
    row: int
    record: PortableRecord  # its `updates` is empty: the one message travels beside it
    update: PortableUpdate


@dataclass(frozen=True)
class Deletion:
    row: int
    code_hash: str
    expires: float


class Outbox:
    """The registry file's outbox, on a connection of its own (the replicator is its own process)."""

    def __init__(self, registry_path: str) -> None:
        Registry(registry_path).close()  # the registry's tables first: the triggers name them
        self._db = sqlite3.connect(registry_path, isolation_level=None, timeout=10.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("BEGIN IMMEDIATE")
        new = not self._db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'region_outbox'"
        ).fetchone()
        for statement in _SCHEMA.split(";\n"):
            if statement.strip():
                self._db.execute(statement)
        if new:  # records made before this island joined a region travel too
            self._db.execute(
                "INSERT INTO region_outbox (kind, update_id) SELECT 'note', id FROM registry_updates"
            )
        self._db.execute("COMMIT")

    def close(self) -> None:
        self._db.close()

    def pending(self, limit: int = 500) -> list[Note | Deletion]:
        """The oldest entries not yet published; a note whose record is gone since is skipped
        (its deletion follows in the outbox)."""
        rows = self._db.execute(
            "SELECT o.id, o.kind, o.code_hash, o.expires, u.at, u.presets, u.text, "
            "r.lookup_key, r.name, r.code_hash, r.created, r.expires "
            "FROM region_outbox o LEFT JOIN registry_updates u ON u.id = o.update_id "
            "LEFT JOIN registry_records r ON r.id = u.record_id ORDER BY o.id LIMIT ?",
            (limit,),
        ).fetchall()
        entries: list[Note | Deletion] = []
        gone: list[int] = []

        for row, kind, code_hash, expires, at, presets, text, key, name, r_hash, created, r_expires in rows:
            if kind == "delete":
                entries.append(Deletion(row, code_hash, expires))
            elif r_hash is None:
                gone.append(row)
            else:
                record = PortableRecord(key, name, r_hash, created, r_expires, [])
                entries.append(Note(row, record, PortableUpdate(at, json.loads(presets), text)))
        if gone:
            self.done(gone)
        return entries

    def done(self, rows: list[int]) -> None:
        self._db.executemany("DELETE FROM region_outbox WHERE id = ?", [(r,) for r in rows])

    def data_version(self) -> int:
        """Changes whenever another connection (the site) commits to the file: time to look."""
        version: int = self._db.execute("PRAGMA data_version").fetchone()[0]
        return version

    def size(self) -> int:
        count: int = self._db.execute("SELECT COUNT(*) FROM region_outbox").fetchone()[0]
        return count
