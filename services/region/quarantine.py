"""Events refused by the applier, kept aside for an operator: never applied, never silently dropped.

The table lives in the island's registry file (one file to back up, one retention): a refused
event may hold a name, so it is deleted with the registry's lifetime like everything else there.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass

_SCHEMA = """
CREATE TABLE IF NOT EXISTS region_quarantine (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    subject TEXT NOT NULL,
    stream_seq INTEGER,
    reason TEXT NOT NULL,
    data BLOB NOT NULL
)
"""

KEEP_BYTES = 4096  # enough for an operator to see what it was; an oversized event is cut


@dataclass(frozen=True)
class Refused:
    at: float
    subject: str
    stream_seq: int | None
    reason: str
    data: bytes


class Quarantine:
    def __init__(self, registry_path: str) -> None:
        # Used from the replicator's apply threads, one at a time (the lock).
        self._db = sqlite3.connect(registry_path, isolation_level=None, timeout=10.0, check_same_thread=False)
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA secure_delete=ON")
        self._db.execute(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def keep(self, refused: Refused) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO region_quarantine (at, subject, stream_seq, reason, data) VALUES (?, ?, ?, ?, ?)",
                (
                    refused.at,
                    refused.subject[:200],
                    refused.stream_seq,
                    refused.reason,
                    refused.data[:KEEP_BYTES],
                ),
            )

    def purge_older_than(self, cutoff: float) -> None:
        self._db.execute("DELETE FROM region_quarantine WHERE at <= ?", (cutoff,))

    def count(self) -> int:
        count: int = self._db.execute("SELECT COUNT(*) FROM region_quarantine").fetchone()[0]
        return count

    def entries(self, limit: int = 100) -> list[Refused]:
        rows = self._db.execute(
            "SELECT at, subject, stream_seq, reason, data FROM region_quarantine ORDER BY id DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return [Refused(at, subject, seq, reason, bytes(data)) for at, subject, seq, reason, data in rows]
