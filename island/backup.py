"""``island backup OUT`` and ``island restore FILE``: the island's data, safe while the site writes.

The data folder holds the crisis site's database (content, editor accounts, the safe-and-well
register) and the island's certificate and keys. A backup copies each SQLite database with
SQLite's online backup API — a consistent snapshot even while residents register — and every
other file as it is, into one ``.tar.gz`` with a manifest (sizes, SHA-256, row counts). A restore
checks the archive whole before it touches anything, refuses while a process has the database
open, asks before it replaces, and swaps the files in at the end.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
FORMAT = "odrift-backup/1"
_SQLITE_SUFFIXES = (".sqlite3", ".sqlite", ".db")
# SQLite's own companions: a snapshot has none; a restore removes the old ones.
_COMPANIONS = ("-wal", "-shm", "-journal")
# Tables whose row counts the manifest records, so a person can see what a backup holds.
_COUNTED = ("messages", "editors", "registry_records")


class BackupError(RuntimeError):
    """Something the operator must act on; the message says what."""


@dataclass(frozen=True)
class Entry:
    name: str
    size: int
    sha256: str
    rows: dict[str, int]


def _is_database(path: Path) -> bool:
    return path.suffix in _SQLITE_SUFFIXES


def _data_files(data: Path) -> Iterator[Path]:
    for path in sorted(data.rglob("*")):
        if (
            path.is_file()
            and not any(path.name.endswith(c) for c in _COMPANIONS)
            and not path.name.startswith(".")
        ):
            yield path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _row_counts(path: Path) -> dict[str, int]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        return {t: int(db.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]) for t in sorted(tables)}
    finally:
        db.close()


def _snapshot(source: Path, dest: Path) -> None:
    """SQLite's online backup: a consistent copy while other connections go on writing."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    try:
        out = sqlite3.connect(dest)
        try:
            src.backup(out, pages=1024, sleep=0.005)
            out.execute("PRAGMA journal_mode=DELETE")  # a self-contained file, no -wal beside it
        finally:
            out.close()
    finally:
        src.close()
    check = sqlite3.connect(dest)
    try:
        result = check.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        check.close()
    if result != "ok":
        raise BackupError(
            f"the snapshot of {source} fails SQLite's integrity check ({result}); nothing was written"
        )


def backup(data: Path, out: Path) -> tuple[Path, list[Entry]]:
    """Write a backup of ``data`` to ``out`` (a file, or a folder to put a dated file in)."""
    if not data.is_dir():
        raise BackupError(f"no data folder at {data}; name it with --data")
    if out.is_dir() or (not out.exists() and not out.name.endswith(".tar.gz")):
        out.mkdir(parents=True, exist_ok=True)
        out = out / time.strftime("odrift-backup-%Y%m%d-%H%M%S.tar.gz")
    entries: list[Entry] = []
    with tempfile.TemporaryDirectory(prefix="odrift-backup-") as tmp:
        staged = Path(tmp)
        for path in _data_files(data):
            name = path.relative_to(data).as_posix()
            target = staged / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if _is_database(path):
                _snapshot(path, target)
                rows = _row_counts(target)
            else:
                shutil.copy2(path, target)
                rows = {}
            entries.append(Entry(name, target.stat().st_size, _sha256(target), rows))
        manifest = {
            "format": FORMAT,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "source": str(data),
            "files": [entry.__dict__ for entry in entries],
        }
        partial = out.with_name(out.name + ".partial")
        out.parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(partial, "w:gz") as tar:
            blob = json.dumps(manifest, indent=2, ensure_ascii=False).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size = len(blob)
            info.mtime = int(time.time())
            tar.addfile(info, io.BytesIO(blob))
            for entry in entries:
                tar.add(staged / entry.name, arcname=f"data/{entry.name}")
        os.replace(partial, out)  # a backup file is whole or absent
    _record_last_backup(data, out)
    return out, entries


def _record_last_backup(data: Path, out: Path) -> None:
    # `island deploy check` reads this to tell how old the newest backup is.
    (data / ".last-backup.json").write_text(
        json.dumps({"file": str(out.resolve()), "time": time.time()}), encoding="utf-8"
    )


def last_backup(data: Path) -> dict[str, Any] | None:
    try:
        value = json.loads((data / ".last-backup.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def read_manifest(archive: Path) -> dict[str, Any]:
    try:
        with tarfile.open(archive, "r:gz") as tar:
            member = tar.extractfile(MANIFEST)
            if member is None:
                raise BackupError(f"{archive} has no {MANIFEST}: not an island backup")
            manifest = json.loads(member.read())
    except (OSError, tarfile.TarError, KeyError, ValueError) as exc:
        raise BackupError(f"{archive} is not a readable island backup ({exc})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{archive}: unknown backup format {manifest.get('format')!r}; expected {FORMAT}")
    return manifest


def _holders(path: Path) -> list[int]:
    """Processes that have ``path`` open (Linux /proc), so a restore never swaps a live database."""
    holders = []
    target = path.resolve()
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            for fd in (proc / "fd").iterdir():
                try:
                    if Path(os.readlink(fd)) == target:
                        holders.append(int(proc.name))
                        break
                except OSError:
                    continue
        except OSError:
            continue
    return holders


def _extract_checked(archive: Path, manifest: dict[str, Any], into: Path) -> None:
    expected = {f["name"]: f for f in manifest["files"]}
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar.getmembers():
            if member.name == MANIFEST:
                continue
            name = member.name.removeprefix("data/")
            if name not in expected or not member.isfile():
                raise BackupError(
                    f"{archive}: {member.name} is not in its manifest; refusing the whole backup"
                )
            tar.extract(member, into, filter="data")
    for name, entry in expected.items():
        path = into / "data" / name
        if not path.is_file() or _sha256(path) != entry["sha256"]:
            raise BackupError(f"{archive}: {name} is missing or damaged (checksum); nothing was restored")
        if _is_database(path):
            db = sqlite3.connect(path)
            try:
                if db.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                    raise BackupError(
                        f"{archive}: {name} fails SQLite's integrity check; nothing was restored"
                    )
            finally:
                db.close()


def restore(archive: Path, data: Path) -> list[str]:
    """Replace the files of ``data`` named in the backup; returns their names. Check first, swap last."""
    manifest = read_manifest(archive)
    data.mkdir(parents=True, exist_ok=True)
    for entry in manifest["files"]:
        current = data / entry["name"]
        if _is_database(current) and current.exists():
            pids = _holders(current)
            if pids:
                raise BackupError(
                    f"{current} is open in process {', '.join(map(str, pids))}: stop the crisis site first "
                    "(`island down`, or `systemctl stop odrift-site` on an installed box), then restore again"
                )
    with tempfile.TemporaryDirectory(prefix=".restore-", dir=data) as tmp:
        staging = Path(tmp)
        _extract_checked(archive, manifest, staging)
        names = []
        for entry in manifest["files"]:
            name = entry["name"]
            target = data / name
            target.parent.mkdir(parents=True, exist_ok=True)
            for companion in _COMPANIONS:
                Path(f"{target}{companion}").unlink(missing_ok=True)
            os.replace(staging / "data" / name, target)
            names.append(name)
    return names


def describe(manifest: dict[str, Any]) -> list[str]:
    lines = [f"backup of {manifest.get('source')} made {manifest.get('created')}"]
    for entry in manifest["files"]:
        rows = ", ".join(f"{table} {count}" for table, count in entry["rows"].items() if table in _COUNTED)
        lines.append(f"  {entry['name']} ({entry['size']} bytes){': ' + rows if rows else ''}")
    return lines
