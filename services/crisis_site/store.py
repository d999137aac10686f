"""The site's content on disk: SQLite in WAL mode, every write committed with a full fsync.

One store per process. Every change bumps `version`, which the page cache compares
with its own, so a publish or a sync shows at once.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from services.crisis_site.content import (
    SEVERITY_RANK,
    Advice,
    Content,
    Message,
    Seed,
    SyncStatus,
    Trygghetspunkt,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS messages (
    identifier TEXT PRIMARY KEY,
    origin TEXT NOT NULL CHECK (origin IN ('central', 'island')),
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS points (position INTEGER PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS editors (
    username TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY,
    username TEXT NOT NULL REFERENCES editors(username) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    expires REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    username TEXT NOT NULL,
    action TEXT NOT NULL,
    identifier TEXT,
    detail TEXT NOT NULL
);
"""


# Another process's commit (the region's replicator) reaches the cached page within this many seconds.
OTHERS_SEEN_WITHIN = 0.1


def utcnow() -> datetime:
    return datetime.now(UTC)


def localnow() -> datetime:
    """Now in the island's own UTC offset: the times residents read on the page."""
    return datetime.now(UTC).astimezone()


class Store:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._lock = threading.RLock()
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: a write the site has acknowledged survives a crash or a power cut.
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(_SCHEMA)
        self._version = 0
        self._data_version = self._db.execute("PRAGMA data_version").fetchone()[0]
        self._others_asked = -OTHERS_SEEN_WITHIN  # when data_version was last asked (monotonic)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # Low level -------------------------------------------------------------------------
    def _write(self, statements: Iterable[tuple[str, tuple[Any, ...]]], bump: bool = True) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for sql, params in statements:
                    self._db.execute(sql, params)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            if bump:
                self._changed()

    def _changed(self) -> None:
        self._version += 1

    @property
    def version(self) -> int:
        """Bumped by every change, also one committed by another process (the region's replicator
        saving a crisis message from the hub): SQLite's data_version moves then."""
        with self._lock:
            self._others_asked = time.monotonic()
            seen = self._db.execute("PRAGMA data_version").fetchone()[0]
            if seen != self._data_version:
                self._data_version = seen
                self._version += 1
            return self._version

    @property
    def recent_version(self) -> int:
        """The version for the cached page, asked on every request: this process's changes at once,
        another's within OTHERS_SEEN_WITHIN seconds (the query costs as much as the rest of a cached
        answer)."""
        if time.monotonic() < self._others_asked + OTHERS_SEEN_WITHIN:
            return self._version
        return self.version

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def _meta(self, key: str, default: Any = None) -> Any:
        rows = self._rows("SELECT value FROM meta WHERE key = ?", (key,))
        return json.loads(rows[0][0]) if rows else default

    @staticmethod
    def _set_meta(key: str, value: Any) -> tuple[str, tuple[Any, ...]]:
        return ("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, json.dumps(value)))

    # Seeding ------------------------------------------------------------------------------
    def is_empty(self) -> bool:
        return self._meta("municipality") is None

    def seed(self, seed: Seed) -> None:
        """Fill an empty store; a store that already has content is left as it is."""
        if not self.is_empty():
            return
        statements = [
            self._set_meta("municipality", seed.municipality),
            self._set_meta("sender", seed.sender),
            self._set_meta("updated", seed.updated.isoformat()),
            self._set_meta("next_update", seed.next_update),
            self._set_meta("actions", seed.actions),
            self._set_meta("advice", seed.advice.model_dump()),
        ]
        statements += [self._put_message(m) for m in seed.messages]
        statements += [
            ("INSERT INTO points (position, body) VALUES (?, ?)", (i, p.model_dump_json()))
            for i, p in enumerate(seed.trygghetspunkter)
        ]
        self._write(statements)

    # Messages -----------------------------------------------------------------------------
    @staticmethod
    def _put_message(message: Message) -> tuple[str, tuple[Any, ...]]:
        return (
            "INSERT OR REPLACE INTO messages (identifier, origin, body) VALUES (?, ?, ?)",
            (message.identifier, message.origin, message.model_dump_json(by_alias=True)),
        )

    def messages(self, origin: str | None = None) -> list[Message]:
        if origin is None:
            rows = self._rows("SELECT body FROM messages")
        else:
            rows = self._rows("SELECT body FROM messages WHERE origin = ?", (origin,))
        return [Message.model_validate_json(body) for (body,) in rows]

    def message(self, identifier: str) -> Message | None:
        rows = self._rows("SELECT body FROM messages WHERE identifier = ?", (identifier,))
        return Message.model_validate_json(rows[0][0]) if rows else None

    def replace_central(self, messages: list[Message], heard_at: datetime) -> list[str]:
        """Make the central messages exactly the feed's; island messages are never touched.

        Returns the identifiers skipped because an island message already uses them.
        """
        island = {m.identifier for m in self.messages("island")}
        skipped = [m.identifier for m in messages if m.identifier in island]
        kept = [m for m in messages if m.identifier not in island]
        by_id = {m.identifier: m for m in kept}
        # A Cancel (or an Update) in the feed retires the message it references.
        for m in kept:
            if m.references and m.references in by_id and m.msg_type in ("Cancel", "Update"):
                old = by_id[m.references]
                by_id[m.references] = old.model_copy(update={"cancelled": True})
        current = {m.identifier: m for m in self.messages("central")}
        changed = current != by_id
        statements: list[tuple[str, tuple[Any, ...]]] = []
        if changed:
            statements.append(("DELETE FROM messages WHERE origin = 'central'", ()))
            statements += [
                self._put_message(m.model_copy(update={"origin": "central"})) for m in by_id.values()
            ]
            statements.append(self._set_meta("updated", heard_at.isoformat()))
            # The seed's "next update" promise belongs to the seed's text, not to the municipality's newer word.
            statements.append(self._set_meta("next_update", None))
        statements.append(self._set_meta("sync", self._sync_dict(heard_at, True, None)))
        previous = self._meta("sync", {}) or {}
        self._write(statements, bump=changed or previous.get("reachable") is not True)
        return skipped

    def _sync_dict(self, last_heard: datetime | None, reachable: bool, error: str | None) -> dict[str, Any]:
        previous = self._meta("sync", {}) or {}
        return {
            "last_heard": last_heard.isoformat() if last_heard else previous.get("last_heard"),
            "reachable": reachable,
            "last_error": error,
        }

    def record_sync_failure(self, error: str) -> None:
        """The poll failed; the last good content stays. Only a change of state bumps the version."""
        previous = self._meta("sync", {}) or {}
        if previous.get("reachable") is False and previous.get("last_error") == error:
            return
        self._write([self._set_meta("sync", self._sync_dict(None, False, error))])

    def record_not_modified(self, heard_at: datetime) -> None:
        """The feed answered 304: remember the contact; the page changes only if it had been cut off."""
        previous = self._meta("sync", {}) or {}
        self._write(
            [self._set_meta("sync", self._sync_dict(heard_at, True, None))],
            bump=previous.get("reachable") is not True,
        )

    def save_island_message(self, message: Message, username: str, action: str, detail: str) -> None:
        message = message.model_copy(update={"origin": "island"})
        self._write(
            [
                self._put_message(message),
                self._set_meta("updated", message.sent.isoformat()),
                self._audit(username, action, message.identifier, detail),
            ]
        )

    # Trygghetspunkter ------------------------------------------------------------------------
    def points(self) -> list[Trygghetspunkt]:
        rows = self._rows("SELECT body FROM points ORDER BY position")
        return [Trygghetspunkt.model_validate_json(body) for (body,) in rows]

    # The whole page ----------------------------------------------------------------------------
    def content(self, feed: str | None = None, now: datetime | None = None) -> Content:
        now = now or utcnow()
        messages = self.messages()
        # A message the hub relayed through the region ("region:hub:<id>") is not shown twice when the
        # island also heard it from the municipality's feed itself.
        heard = {m.identifier for m in messages if m.origin == "central"}
        active = [
            m
            for m in messages
            if m.is_active(now)
            and not (m.identifier.startswith("region:hub:") and m.identifier[11:] in heard)
        ]
        active.sort(key=lambda m: (SEVERITY_RANK[m.severity], m.sent), reverse=True)
        sync = self._meta("sync", {}) or {}
        return Content(
            municipality=self._meta("municipality", "Kommunen"),
            sender=self._meta("sender", "Kommunen"),
            updated=datetime.fromisoformat(self._meta("updated", now.isoformat())),
            next_update=self._meta("next_update"),
            actions=self._meta("actions", []),
            messages=active,
            trygghetspunkter=self.points(),
            advice=Advice.model_validate(self._meta("advice", {})),
            sync=SyncStatus(feed=feed, **sync),
        )

    def next_change(self, now: datetime | None = None) -> datetime | None:
        """When time alone changes what is active (a message starts or expires)."""
        now = now or utcnow()
        times = [t for m in self.messages() for t in (m.effective, m.expires) if t is not None and t > now]
        return min(times) if times else None

    # Editors, sessions, audit -------------------------------------------------------------------
    def add_editor(self, username: str, password_hash: str) -> None:
        self._write(
            [
                (
                    "INSERT INTO editors (username, password_hash, created) VALUES (?, ?, ?) "
                    "ON CONFLICT(username) DO UPDATE SET password_hash = excluded.password_hash",
                    (username, password_hash, utcnow().isoformat()),
                ),
                # A new password ends the old sessions.
                ("DELETE FROM sessions WHERE username = ?", (username,)),
                self._audit("(cli)", "add-editor", None, f"editor {username}"),
            ]
        )

    def password_hash(self, username: str) -> str | None:
        rows = self._rows("SELECT password_hash FROM editors WHERE username = ?", (username,))
        return rows[0][0] if rows else None

    def set_password_hash(self, username: str, password_hash: str) -> None:
        self._write([("UPDATE editors SET password_hash = ? WHERE username = ?", (password_hash, username))])

    def create_session(self, token_hash: str, username: str, csrf: str, expires: float) -> None:
        self._write(
            [
                ("DELETE FROM sessions WHERE expires < ?", (utcnow().timestamp(),)),
                (
                    "INSERT INTO sessions (token_hash, username, csrf, expires) VALUES (?, ?, ?, ?)",
                    (token_hash, username, csrf, expires),
                ),
                self._audit(username, "login", None, "logged in"),
            ]
        )

    def session(self, token_hash: str) -> tuple[str, str] | None:
        rows = self._rows(
            "SELECT username, csrf FROM sessions WHERE token_hash = ? AND expires > ?",
            (token_hash, utcnow().timestamp()),
        )
        return (rows[0][0], rows[0][1]) if rows else None

    def end_session(self, token_hash: str, username: str) -> None:
        self._write(
            [
                ("DELETE FROM sessions WHERE token_hash = ?", (token_hash,)),
                self._audit(username, "logout", None, "logged out"),
            ]
        )

    def log_action(self, username: str, action: str, detail: str) -> None:
        """An audit entry for something done outside the messages (no page change)."""
        self._write([self._audit(username, action, None, detail)], bump=False)

    @staticmethod
    def _audit(
        username: str, action: str, identifier: str | None, detail: str
    ) -> tuple[str, tuple[Any, ...]]:
        return (
            "INSERT INTO audit (at, username, action, identifier, detail) VALUES (?, ?, ?, ?, ?)",
            (utcnow().isoformat(timespec="seconds"), username, action, identifier, detail),
        )

    def audit_log(self, limit: int = 200) -> list[dict[str, Any]]:
        rows = self._rows(
            "SELECT at, username, action, identifier, detail FROM audit ORDER BY id DESC LIMIT ?", (limit,)
        )
        return [dict(zip(("at", "username", "action", "identifier", "detail"), row)) for row in rows]
