"""Safe and well: people say they are OK; relatives who already know who they look for can see it.

Private by design: a record is found only by its full name AND its second identifier (phone
number or home address), both normalised and hashed together into one key, so there is no
partial match, no list, and "no such person" and "wrong identifier" are the same miss. A
lookup returns the name, the times and the messages, never where anyone is. Updates are
appended, never changed; records expire and are deleted for real. The private code that
lets the person update or delete is random and only its hash is kept.

SQLite in WAL mode with synchronous=FULL: register() returns only after a durable commit.

Flat as it grows (docs/registry.md): lookups use the key's index; export and import stream in
batches (constant memory whatever the number of records); expired records are deleted by a
background sweeper in small batches (registry_expiry.py), never inside a resident's request;
the staff counts read counters kept by triggers, not a scan of a million rows.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import sqlite3
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from itertools import islice
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from services.crisis_site.registry_expiry import Sweeper

_T = TypeVar("_T")

DEFAULT_TTL = 30 * 24 * 3600.0
EXPIRE_EVERY = 60.0  # seconds between background sweeps
CHECKPOINT_EVERY = 0.25  # seconds between background checkpoints (one with nothing to copy is free)
EXPORT_BATCH = 500  # records read per query while exporting
IMPORT_BATCH = 500  # records per import transaction
MAX_NAME = 100
MAX_IDENTIFIER = 200
MAX_TEXT = 200

# Preset messages, by stable key; the texts live in the page's languages.
PRESETS = ("safe", "at_point", "with_family", "will_contact", "need_nothing")

# Easy to read aloud and type: no 0/O, 1/I/L.
_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
_CODE_GROUPS = 4  # 4 x 4 characters: about 79 bits

_SCHEMA = """
CREATE TABLE IF NOT EXISTS registry_records (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    lookup_key TEXT NOT NULL,
    name TEXT NOT NULL,
    code_hash TEXT NOT NULL UNIQUE,
    created REAL NOT NULL,
    expires REAL NOT NULL,
    pfif_id TEXT  -- the PFIF person_record_id a record came with from elsewhere; NULL if made here
);
CREATE INDEX IF NOT EXISTS registry_by_key ON registry_records (lookup_key);
CREATE INDEX IF NOT EXISTS registry_by_expiry ON registry_records (expires);
CREATE TABLE IF NOT EXISTS registry_updates (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    record_id INTEGER NOT NULL REFERENCES registry_records(id) ON DELETE CASCADE,
    at REAL NOT NULL,
    presets TEXT NOT NULL,
    text TEXT NOT NULL,
    pfif_id TEXT  -- the PFIF note_record_id a message came with from elsewhere; NULL if made here
);
CREATE INDEX IF NOT EXISTS registry_updates_by_record ON registry_updates (record_id);
-- The same message imported twice is one message.
CREATE UNIQUE INDEX IF NOT EXISTS registry_updates_once ON registry_updates (record_id, at, presets, text);
-- Append-only: an update once written is never changed.
CREATE TRIGGER IF NOT EXISTS registry_updates_append_only BEFORE UPDATE ON registry_updates
BEGIN SELECT RAISE(ABORT, 'registry updates are append-only'); END;
-- Records deleted here or elsewhere in the region, by their code's hash, until they would have
-- expired: a message for a deleted record arriving late from another island must not bring it back.
CREATE TABLE IF NOT EXISTS registry_deletions (code_hash TEXT PRIMARY KEY, expires REAL NOT NULL);
CREATE TRIGGER IF NOT EXISTS registry_records_deleted AFTER DELETE ON registry_records
BEGIN INSERT OR IGNORE INTO registry_deletions (code_hash, expires) VALUES (OLD.code_hash, OLD.expires); END;
-- Holds a row only inside apply_note/apply_deletion's transaction (never committed): the region's
-- outbox triggers (services/region/outbox.py) skip what arrived from elsewhere.
CREATE TABLE IF NOT EXISTS registry_applying (one INTEGER PRIMARY KEY CHECK (one = 1));
"""

# Files made before PFIF import lack the pfif_id columns.
_MIGRATIONS = (
    ("registry_records", "pfif_id", "ALTER TABLE registry_records ADD COLUMN pfif_id TEXT"),
    ("registry_updates", "pfif_id", "ALTER TABLE registry_updates ADD COLUMN pfif_id TEXT"),
)

# The staff counts, kept by triggers so reading them is a few rows at any size. Registrations
# per hour (by their `created` hour) make "the last day" a sum of 25 rows.
_COUNTERS = """
CREATE TABLE registry_counts (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE registry_hours (hour INTEGER PRIMARY KEY, registered INTEGER NOT NULL);
INSERT INTO registry_counts (name, value) VALUES
    ('records', (SELECT COUNT(*) FROM registry_records)),
    ('messages', (SELECT COUNT(*) FROM registry_updates));
INSERT INTO registry_hours (hour, registered)
    SELECT CAST(created / 3600 AS INTEGER) AS h, COUNT(*) FROM registry_records GROUP BY h;
CREATE TRIGGER registry_counts_record_in AFTER INSERT ON registry_records BEGIN
    UPDATE registry_counts SET value = value + 1 WHERE name = 'records';
    INSERT INTO registry_hours (hour, registered) VALUES (CAST(NEW.created / 3600 AS INTEGER), 1)
        ON CONFLICT (hour) DO UPDATE SET registered = registered + 1;
END;
CREATE TRIGGER registry_counts_record_out AFTER DELETE ON registry_records BEGIN
    UPDATE registry_counts SET value = value - 1 WHERE name = 'records';
END;
CREATE TRIGGER registry_counts_message_in AFTER INSERT ON registry_updates BEGIN
    UPDATE registry_counts SET value = value + 1 WHERE name = 'messages';
END;
CREATE TRIGGER registry_counts_message_out AFTER DELETE ON registry_updates BEGIN
    UPDATE registry_counts SET value = value - 1 WHERE name = 'messages';
END;
"""


class RegistryError(ValueError):
    """Bad input; `errors` maps a form field to what is wrong with it (a text key)."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(", ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


# Normalisation ------------------------------------------------------------------------------
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_PHONE_CHARS = re.compile(r"^[0-9+()\s.\-/]+$")


def _fold(text: str) -> str:
    """Case, accents and spacing do not matter: 'ÅSA  Öberg' and 'asa oberg' are the same."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(plain.casefold().split())


def normalise_name(name: str) -> str:
    folded = _fold(name.replace("-", " "))
    return folded


def searched_name(name: str) -> str:
    """A searched-for name exactly as lookup() keys it (the registry's limits key on this too)."""
    return normalise_name(clean_text(name)[:MAX_NAME])


def normalise_phone(value: str) -> str | None:
    """'+46 70-123 45 67', '0046701234567', '070-123 45 67' -> '0701234567'; None if not a phone number."""
    if not _PHONE_CHARS.match(value):
        return None
    compact = re.sub(r"[\s.\-/]", "", value).replace("(0)", "")
    compact = compact.replace("(", "").replace(")", "")
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if compact.startswith("+46"):
        compact = "0" + compact[3:].lstrip("0")
    if not re.fullmatch(r"\+?[0-9]{6,15}", compact):
        return None
    return compact


def normalise_identifier(value: str) -> str | None:
    """A phone number in any Swedish format, or a home address; None if it is neither."""
    value = value.strip()
    if not value:
        return None
    phone = normalise_phone(value)
    if phone is not None:
        return "tel:" + phone
    if _PHONE_CHARS.match(value) or not any(ch.isalpha() for ch in value):
        return None  # digits that are no phone number: an address has a street name
    address = _fold(re.sub(r"[,.;:]", " ", value))
    return "adr:" + address


def lookup_key(name: str, identifier: str) -> str:
    return hashlib.sha256(f"{name}\x00{identifier}".encode()).hexdigest()


def _hash_code(code: str) -> str:
    return hashlib.sha256(normalise_code(code).encode("ascii", "replace")).hexdigest()


def normalise_code(code: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", code.upper())


def new_code() -> str:
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(4 * _CODE_GROUPS))
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def clean_text(text: str) -> str:
    """Control and direction characters out, runs of spaces to one."""
    return " ".join(_CONTROL.sub(" ", text).split())


def check_entry(
    name: str, identifier: str, presets: list[str], text: str
) -> tuple[str, str, str, list[str], str]:
    """Validated (display name, normalised name, normalised identifier, presets, text), or RegistryError."""
    errors: dict[str, str] = {}
    display, norm_name, ident = _check_person(name, identifier, errors)
    chosen, text = check_message(presets, text, errors)
    if errors:
        raise RegistryError(errors)
    return display, norm_name, ident, chosen, text


def _check_person(name: str, identifier: str, errors: dict[str, str]) -> tuple[str, str, str]:
    display = clean_text(name)
    if not display:
        errors["name"] = "err_empty"
    elif len(display) > MAX_NAME:
        errors["name"] = "err_long"
    elif not any(ch.isalpha() for ch in display):
        errors["name"] = "err_name"
    ident = ""
    if not identifier.strip():
        errors["identifier"] = "err_empty"
    elif len(identifier) > MAX_IDENTIFIER:
        errors["identifier"] = "err_long"
    else:
        ident = normalise_identifier(clean_text(identifier)) or ""
        if not ident:
            errors["identifier"] = "err_identifier"
    return display, normalise_name(display), ident


def key_for(name: str, identifier: str) -> tuple[str, str]:
    """(display name, lookup key) exactly as register() makes them, for a record arriving with
    its identifier in the clear; RegistryError if either is unusable. The identifier is not kept."""
    errors: dict[str, str] = {}
    display, norm_name, ident = _check_person(name, identifier, errors)
    if errors:
        raise RegistryError(errors)
    return display, lookup_key(norm_name, ident)


def check_message(presets: list[str], text: str, errors: dict[str, str]) -> tuple[list[str], str]:
    chosen = [p for p in PRESETS if p in presets]  # fixed order, no duplicates
    if len(chosen) != len(set(presets)):
        errors["presets"] = "err_preset"
    elif not chosen:
        errors["presets"] = "err_no_preset"
    text = clean_text(text)
    if len(text) > MAX_TEXT:
        errors["text"] = "err_long"
    return chosen, text


_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def _parse_line(number: int, line: str) -> dict[str, Any]:
    """One exported record, checked as hostile input; ValueError names the line and the problem."""
    try:
        e = json.loads(line)
        if not isinstance(e, dict) or e.get("version") != 1:
            raise ValueError("not a version 1 record")
        for field in ("key", "code_hash"):
            if not isinstance(e.get(field), str) or not _HEX64.match(e[field]):
                raise ValueError(f"{field} must be 64 hex digits")
        check_portable_name(e.get("name"))
        for field in ("created", "expires"):
            if not isinstance(e.get(field), (int, float)) or isinstance(e[field], bool):
                raise ValueError(f"{field} must be a number")
        updates = e.get("updates")
        if not isinstance(updates, list) or not updates:
            raise ValueError("updates must be a non-empty list")
        for u in updates:
            if not isinstance(u, dict) or not isinstance(u.get("at"), (int, float)):
                raise ValueError("an update needs a time")
            check_portable_message(u.get("presets"), u.get("text"))
        return e
    except ValueError as exc:  # json.JSONDecodeError is a ValueError
        raise ValueError(f"line {number}: {exc}") from None


def check_portable_name(name: object) -> str:
    """A name arriving from another island, checked as hostile input; ValueError says what is wrong."""
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME or _CONTROL.search(name):
        raise ValueError("bad name")
    return name


def check_portable_message(presets: object, text: object) -> None:
    """A message arriving from elsewhere: known presets, short clean text, and not empty.

    A message imported from Person Finder has words but no preset, so presets may be empty
    when there is text; a message made here always has at least one preset.
    """
    if (
        not isinstance(presets, list)
        or any(p not in PRESETS for p in presets)
        or len(set(presets)) != len(presets)
    ):
        raise ValueError("unknown preset message")
    if not isinstance(text, str) or len(text) > MAX_TEXT or _CONTROL.search(text):
        raise ValueError("bad free text")
    if not presets and not text.strip():
        raise ValueError("a message needs a preset or a text")


# The store ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Update:
    at: float
    presets: list[str]
    text: str


@dataclass(frozen=True)
class Found:
    """All a searcher ever sees: the name and each message with its time. No place, no id."""

    name: str
    updates: list[Update]


@dataclass(frozen=True)
class PortableUpdate:
    """One message as it moves between islands; pfif_id is the note id it came with, if any."""

    at: float
    presets: list[str]
    text: str
    pfif_id: str | None = None


@dataclass(frozen=True)
class PortableRecord:
    """One record as it moves between islands: hashed key and code, never the identifier."""

    key: str
    name: str
    code_hash: str
    created: float
    expires: float
    updates: list[PortableUpdate]
    pfif_id: str | None = None


@dataclass(frozen=True)
class RemoteNote:
    """One message of one record, arriving from another island of the region."""

    record: PortableRecord
    update: PortableUpdate


@dataclass(frozen=True)
class RemoteDeletion:
    """A record deleted on another island of the region."""

    code_hash: str
    expires: float


def _messages(db: sqlite3.Connection, record_id: int) -> list[PortableUpdate]:
    """A record's messages, oldest first."""
    rows = db.execute(
        "SELECT at, presets, text, pfif_id FROM registry_updates WHERE record_id = ? ORDER BY at, id",
        (record_id,),
    ).fetchall()
    return [PortableUpdate(at, json.loads(p), t, n) for at, p, t, n in rows]


def _statements(script: str) -> Iterator[str]:
    """A script's statements one by one (triggers included), to run inside a transaction of
    our own: executescript() would commit first."""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            yield pending
            pending = ""


def _messages_between(db: sqlite3.Connection, first: int, last: int) -> dict[int, list[PortableUpdate]]:
    """The messages of records first..last (ids), each record's oldest first: one query per batch."""
    found: dict[int, list[PortableUpdate]] = {}
    for record_id, at, p, t, n in db.execute(
        "SELECT record_id, at, presets, text, pfif_id FROM registry_updates "
        "WHERE record_id BETWEEN ? AND ? ORDER BY record_id, at, id",
        (first, last),
    ):
        found.setdefault(record_id, []).append(PortableUpdate(at, json.loads(p), t, n))
    return found


def _import_batch(db: sqlite3.Connection, records: list[PortableRecord]) -> int:
    """One import transaction's work; returns how many messages were new."""
    added = 0
    for r in records:
        db.execute(
            "INSERT OR IGNORE INTO registry_records (lookup_key, name, code_hash, created, expires, pfif_id) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (r.key, r.name, r.code_hash, r.created, r.expires, r.pfif_id),
        )
        record_id = db.execute(
            "SELECT id FROM registry_records WHERE code_hash = ?", (r.code_hash,)
        ).fetchone()[0]
        if r.pfif_id is not None:  # came first as JSON lines: keep the PFIF id from now on
            db.execute(
                "UPDATE registry_records SET pfif_id = ? WHERE id = ? AND pfif_id IS NULL",
                (r.pfif_id, record_id),
            )
        for u in r.updates:
            added += db.execute(
                "INSERT OR IGNORE INTO registry_updates (record_id, at, presets, text, pfif_id) "
                "VALUES (?, ?, ?, ?, ?)",
                (record_id, u.at, json.dumps(u.presets), u.text, u.pfif_id),
            ).rowcount
    return added


class Registry:
    def __init__(
        self,
        path: str | Path,
        ttl: float = DEFAULT_TTL,
        clock: Callable[[], float] = time.time,
        expire_every: float | None = EXPIRE_EVERY,
        checkpoint_every: float | None = CHECKPOINT_EVERY,
    ) -> None:
        """`expire_every`: seconds between background expiry sweeps; None for none (a command
        that opens the file briefly, or a test that sweeps by hand with purge_expired()).
        `checkpoint_every`: seconds between background checkpoints; None leaves them to SQLite,
        inside whichever commit finds the log long."""
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.ttl = ttl
        self._clock = clock
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=10.0)
        self._lock = threading.RLock()
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: an acknowledged registration survives a crash or a power cut.
        self._db.execute("PRAGMA synchronous=FULL")
        if checkpoint_every is not None:  # the background thread checkpoints, never a registration
            self._db.execute("PRAGMA wal_autocheckpoint=0")
        self._db.execute("PRAGMA foreign_keys=ON")
        # Deleted records are overwritten in the file, not only unlinked.
        self._db.execute("PRAGMA secure_delete=ON")
        self._db.executescript(_SCHEMA)
        self._migrate()
        # Lookups read on a connection of their own thread: in WAL mode readers never wait for a
        # registration's durable commit, so relatives' lookups stay fast while many register.
        self._readers = threading.local()
        self._reader_connections: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()  # not the writers' lock: a reader never waits on it
        self._checkpointer: sqlite3.Connection | None = None  # the sweeper's, apart from the writers'
        self._checkpointer_lock = threading.Lock()  # the sweeper's thread, or purge_expired()'s caller
        self._sweeper = Sweeper(self._expire_batch, self._checkpoint, expire_every, checkpoint_every)
        self._sweeper.start()

    def _migrate(self) -> None:
        with self._lock:
            for table, column, statement in _MIGRATIONS:
                columns = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
                if column not in columns:
                    try:
                        self._db.execute(statement)
                    except sqlite3.OperationalError as exc:  # another process added it first
                        if "duplicate column" not in str(exc):
                            raise
            self._db.execute("BEGIN IMMEDIATE")  # counted once, with no writer in between
            try:
                if not self._db.execute(
                    "SELECT 1 FROM sqlite_master WHERE name = 'registry_counts'"
                ).fetchone():
                    for statement in _statements(_COUNTERS):
                        self._db.execute(statement)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def now(self) -> float:
        return self._clock()

    def close(self) -> None:
        self._sweeper.stop()
        with self._checkpointer_lock:
            if self._checkpointer is not None:
                self._checkpointer.close()
        with self._lock, self._readers_lock:
            for reader in self._reader_connections:
                reader.close()
            self._reader_connections.clear()
            self._db.close()

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot to read from, without taking the writers' lock."""
        if self.path == ":memory:":  # a memory database exists on its one connection only
            with self._lock:
                yield self._db
            return
        db = getattr(self._readers, "db", None)
        if db is None:
            db = sqlite3.connect(
                f"file:{quote(self.path)}?mode=ro",
                uri=True,
                check_same_thread=False,
                isolation_level=None,
                timeout=10.0,
            )
            self._readers.db = db
            with self._readers_lock:
                self._reader_connections.append(db)
        db.execute("BEGIN")
        try:
            yield db
        finally:
            db.execute("COMMIT")

    def _transaction(self, work: Callable[[sqlite3.Connection], _T]) -> _T:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                result = work(self._db)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            return result

    def _checkpoint(self) -> None:
        """A passive checkpoint on a connection of its own: writers go on while it copies."""
        if self.path == ":memory:":
            return
        with self._checkpointer_lock:
            if self._checkpointer is None:
                self._checkpointer = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def _expire_batch(self, limit: int) -> int:
        """Delete up to `limit` expired records (their messages go with them) in one short
        transaction; returns how many."""

        def work(db: sqlite3.Connection) -> int:
            removed = db.execute(
                "DELETE FROM registry_records WHERE id IN "
                "(SELECT id FROM registry_records WHERE expires <= ? ORDER BY expires LIMIT ?)",
                (self._clock(), limit),
            ).rowcount
            # What other islands deleted stays deleted until it would have expired (the region), no longer.
            db.execute(
                "DELETE FROM registry_deletions WHERE code_hash IN "
                "(SELECT code_hash FROM registry_deletions WHERE expires <= ? LIMIT ?)",
                (self._clock(), limit),
            )
            return removed

        # Without its own fsync: the next registration's durable commit syncs these pages too, and
        # a delete lost to a power cut is redone by the next sweep (lookups skip expired records).
        with self._lock:
            self._db.execute("PRAGMA synchronous=NORMAL")
            try:
                return self._transaction(work)
            finally:
                self._db.execute("PRAGMA synchronous=FULL")

    def register(self, name: str, identifier: str, presets: list[str], text: str = "") -> str:
        """Store a new record; returns its private code once the commit is durable."""
        display, norm_name, ident, chosen, text = check_entry(name, identifier, presets, text)
        code = new_code()
        now = self._clock()

        def work(db: sqlite3.Connection) -> None:
            cur = db.execute(
                "INSERT INTO registry_records (lookup_key, name, code_hash, created, expires) VALUES (?, ?, ?, ?, ?)",
                (lookup_key(norm_name, ident), display, _hash_code(code), now, now + self.ttl),
            )
            db.execute(
                "INSERT INTO registry_updates (record_id, at, presets, text) VALUES (?, ?, ?, ?)",
                (cur.lastrowid, now, json.dumps(chosen), text),
            )

        self._transaction(work)
        return code

    def _record_for(self, db: sqlite3.Connection, code: str) -> int | None:
        row = db.execute(
            "SELECT id FROM registry_records WHERE code_hash = ? AND expires > ?",
            (_hash_code(code), self._clock()),
        ).fetchone()
        return row[0] if row else None

    def add_update(self, code: str, presets: list[str], text: str = "") -> bool:
        """Append a message to the record the code belongs to; False if no record has that code."""
        errors: dict[str, str] = {}
        chosen, text = check_message(presets, text, errors)
        if errors:
            raise RegistryError(errors)

        def work(db: sqlite3.Connection) -> bool:
            record = self._record_for(db, code)
            if record is None:
                return False
            db.execute(
                "INSERT INTO registry_updates (record_id, at, presets, text) VALUES (?, ?, ?, ?)",
                (record, self._clock(), json.dumps(chosen), text),
            )
            return True

        return self._transaction(work)

    def delete(self, code: str) -> bool:
        """Remove the record and all its messages for real; False if no record has that code."""

        def work(db: sqlite3.Connection) -> bool:
            record = self._record_for(db, code)
            if record is None:
                return False
            db.execute("DELETE FROM registry_records WHERE id = ?", (record,))
            return True

        return self._transaction(work)

    def purge_expired(self) -> int:
        """Delete every expired record now, batch by batch (what the background sweeper does)."""
        return self._sweeper.sweep()

    def lookup(self, name: str, identifier: str) -> list[Found]:
        """Exact match on the normalised full name and identifier; anything else finds nothing."""
        ident = normalise_identifier(clean_text(identifier)[:MAX_IDENTIFIER])
        norm_name = searched_name(name)
        if ident is None or not norm_name:
            return []
        key = lookup_key(norm_name, ident)
        with self._reading() as db:
            records = db.execute(
                "SELECT id, name FROM registry_records WHERE lookup_key = ? AND expires > ? ORDER BY created",
                (key, self._clock()),
            ).fetchall()
            return [
                Found(display, [Update(u.at, u.presets, u.text) for u in _messages(db, record_id)])
                for record_id, display in records
            ]

    # Moving records between islands ----------------------------------------------------------
    def export_records(self) -> Iterator[PortableRecord]:
        """Every live record with all its messages, oldest first. Only the hashed key and code
        travel: the phone number or address was never stored.

        Streamed: EXPORT_BATCH records and their messages are read at a time, from one snapshot,
        so memory stays the same whatever the number of records."""
        now = self._clock()
        with self._reading() as db:  # a snapshot: registrations go on while a slow reader exports
            after = 0
            while True:
                records = db.execute(
                    "SELECT id, lookup_key, name, code_hash, created, expires, pfif_id FROM registry_records "
                    "WHERE id > ? AND expires > ? ORDER BY id LIMIT ?",
                    (after, now, EXPORT_BATCH),
                ).fetchall()
                if not records:
                    return
                messages = _messages_between(db, records[0][0], records[-1][0])
                for record_id, key, name, code_hash, created, expires, pfif_id in records:
                    yield PortableRecord(
                        key, name, code_hash, created, expires, messages.get(record_id, []), pfif_id
                    )
                after = records[-1][0]

    def import_records(self, records: Iterable[PortableRecord]) -> int:
        """Add records (checked by the caller); returns how many messages were new.

        Streamed: IMPORT_BATCH records per transaction, so memory stays flat and registrations
        wait at most one short batch. Records already expired are left out. Idempotent: a record
        is known by its code's hash and a message by its time and words, so importing the same
        records twice (or again after an import stopped half way) changes nothing."""
        now = self._clock()
        live = (r for r in records if r.expires > now)
        added = 0
        while batch := list(islice(live, IMPORT_BATCH)):
            added += self._transaction(partial(_import_batch, records=batch))
        return added

    # Events from the other islands of the region (services/region) ---------------------------
    def _applying(self, work: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run `work` in one transaction marked as applying a remote event (see registry_applying)."""

        def marked(db: sqlite3.Connection) -> _T:
            db.execute("INSERT INTO registry_applying (one) VALUES (1)")
            try:
                return work(db)
            finally:
                db.execute("DELETE FROM registry_applying")

        return self._transaction(marked)

    def apply_events(self, changes: Sequence[RemoteNote | RemoteDeletion]) -> list[bool]:
        """Changes from other islands (checked by the caller), in one durable transaction; for each,
        True if it changed anything here.

        A note creates its record when it is the first word of it here. Idempotent (a record is known
        by its code's hash, a message by its time and words): applying the same changes again changes
        nothing. A deletion wins: the record is deleted and stays deleted until it would have expired,
        so a message for it that arrives later (from another island, by another path) changes nothing.
        """

        def work(db: sqlite3.Connection) -> list[bool]:
            # Expired records and deletions are swept in the background (registry_expiry), never here.
            now = self._clock()
            return [
                self._apply_deletion(db, c, now)
                if isinstance(c, RemoteDeletion)
                else self._apply_note(db, c, now)
                for c in changes
            ]

        return self._applying(work)

    @staticmethod
    def _apply_note(db: sqlite3.Connection, note: RemoteNote, now: float) -> bool:
        record, update = note.record, note.update
        deleted = db.execute("SELECT 1 FROM registry_deletions WHERE code_hash = ?", (record.code_hash,))
        if record.expires <= now or deleted.fetchone():
            return False
        db.execute(
            "INSERT OR IGNORE INTO registry_records (lookup_key, name, code_hash, created, expires) "
            "VALUES (?, ?, ?, ?, ?)",
            (record.key, record.name, record.code_hash, record.created, record.expires),
        )
        record_id = db.execute(
            "SELECT id FROM registry_records WHERE code_hash = ?", (record.code_hash,)
        ).fetchone()[0]
        added = db.execute(
            "INSERT OR IGNORE INTO registry_updates (record_id, at, presets, text) VALUES (?, ?, ?, ?)",
            (record_id, update.at, json.dumps(update.presets), update.text),
        )
        return added.rowcount == 1

    @staticmethod
    def _apply_deletion(db: sqlite3.Connection, deletion: RemoteDeletion, now: float) -> bool:
        removed = db.execute(
            "DELETE FROM registry_records WHERE code_hash = ?", (deletion.code_hash,)
        ).rowcount
        if deletion.expires <= now:
            return bool(removed)
        kept = db.execute(
            "INSERT OR IGNORE INTO registry_deletions (code_hash, expires) VALUES (?, ?)",
            (deletion.code_hash, deletion.expires),
        ).rowcount
        return bool(removed or kept)

    def export_lines(self) -> Iterator[str]:
        """Every live record as one JSON line (see export_records)."""
        for r in self.export_records():
            yield json.dumps(
                {
                    "version": 1,
                    "key": r.key,
                    "name": r.name,
                    "code_hash": r.code_hash,
                    "created": r.created,
                    "expires": r.expires,
                    "updates": [{"at": u.at, "presets": u.presets, "text": u.text} for u in r.updates],
                },
                ensure_ascii=False,
            )

    def import_lines(self, lines: Iterable[str]) -> int:
        """Add the records in `lines` (from export_lines); returns how many messages were new.

        `lines` is read twice (a list, or a file that starts over each time it is iterated): first
        every line is checked, so a bad line refuses the whole import and nothing is stored; then
        the records are stored in batches. Importing the same lines twice changes nothing."""
        for number, line in enumerate(lines, 1):
            if line.strip():
                _parse_line(number, line)
        entries = (_parse_line(number, line) for number, line in enumerate(lines, 1) if line.strip())
        return self.import_records(
            PortableRecord(
                e["key"],
                e["name"],
                e["code_hash"],
                e["created"],
                e["expires"],
                [PortableUpdate(u["at"], u["presets"], u["text"]) for u in e["updates"]],
            )
            for e in entries
        )

    def counts(self) -> dict[str, int]:
        """Numbers for the staff's view; never a name. Read from the trigger-kept counters, less
        the few expired records the background sweeper has not deleted yet: cheap at any size.
        "The last day" is counted in whole hours (the last 24 and the one under way)."""
        now = self._clock()
        with self._reading() as db:
            totals = dict(db.execute("SELECT name, value FROM registry_counts").fetchall())
            expired, expired_messages = db.execute(
                "SELECT COUNT(DISTINCT r.id), COUNT(u.id) FROM registry_records r "
                "LEFT JOIN registry_updates u ON u.record_id = r.id WHERE r.expires <= ?",
                (now,),
            ).fetchone()
            last_day = db.execute(
                "SELECT COALESCE(SUM(registered), 0) FROM registry_hours WHERE hour >= ?",
                (int((now - 86400) // 3600) + 1,),
            ).fetchone()[0]
        return {
            "records": totals["records"] - expired,
            "registered_last_day": last_day,
            "messages": totals["messages"] - expired_messages,
        }

    def count(self) -> int:
        """How many records exist, expired ones not yet purged included; for tests and counts, never names."""
        with self._reading() as db:
            count: int = db.execute("SELECT COUNT(*) FROM registry_records").fetchone()[0]
            return count
