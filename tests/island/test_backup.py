"""`island backup` and `island restore`: a consistent snapshot while residents register, brought back whole."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import pytest

from island.backup import BackupError, backup, read_manifest, restore
from services.crisis_site.registry import Registry

ROOT = Path(__file__).resolve().parents[2]


def _island(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "island", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        input=stdin,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
    )


def test_a_backup_taken_while_residents_register_is_consistent_and_restores_whole(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "tls").mkdir()
    (data / "tls" / "cert.pem").write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")
    registry = Registry(data / "site.sqlite3")
    acknowledged: list[tuple[str, str]] = []
    stop = threading.Event()

    def residents() -> None:
        i = 0
        while not stop.is_set():
            person = (f"Person Nummer {i}", f"070-{i:07d}")
            registry.register(person[0], person[1], ["safe"])
            acknowledged.append(person)
            i += 1

    writer = threading.Thread(target=residents)
    writer.start()
    try:
        while len(acknowledged) < 200:
            time.sleep(0.01)
        before = len(acknowledged)
        archive, entries = backup(data, tmp_path / "backups" / "b.tar.gz")
        after = len(acknowledged)
    finally:
        stop.set()
        writer.join()
        registry.close()
    assert archive.exists() and not list(archive.parent.glob("*.partial"))
    database = next(e for e in entries if e.name == "site.sqlite3")
    # A snapshot of one moment: every registration acknowledged before it began, none half-written.
    assert before <= database.rows["registry_records"] <= after + 1
    assert {e.name for e in entries} == {"site.sqlite3", "tls/cert.pem"}

    fresh = tmp_path / "restored"
    names = restore(archive, fresh)
    assert sorted(names) == ["site.sqlite3", "tls/cert.pem"]
    restored = Registry(fresh / "site.sqlite3")
    try:
        name, identifier = acknowledged[before - 1]
        assert restored.lookup(name, identifier), (
            "a person acknowledged before the backup is found after a restore"
        )
        assert restored.count() == database.rows["registry_records"]
    finally:
        restored.close()
    assert (fresh / "tls" / "cert.pem").read_text(encoding="utf-8").startswith("-----BEGIN")


def test_a_restore_refuses_while_the_database_is_open(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    registry = Registry(data / "site.sqlite3")
    try:
        registry.register("Anna Andersson", "070-1234567", ["safe"])
        archive, _ = backup(data, tmp_path / "b.tar.gz")
        with pytest.raises(BackupError, match="stop the crisis site first"):
            restore(archive, data)
    finally:
        registry.close()
    assert restore(archive, data) == ["site.sqlite3"]


def test_a_damaged_backup_changes_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    registry = Registry(data / "site.sqlite3")
    registry.register("Anna Andersson", "070-1234567", ["safe"])
    registry.close()
    archive, _ = backup(data, tmp_path / "good.tar.gz")
    # Same manifest, other bytes: the checksum must catch it before anything is replaced.
    damaged = tmp_path / "damaged.tar.gz"
    with tarfile.open(archive) as src, tarfile.open(damaged, "w:gz") as out:
        for member in src.getmembers():
            blob = src.extractfile(member).read()  # type: ignore[union-attr]
            if member.name == "data/site.sqlite3":
                damaged_byte = len(blob) // 2
                blob = blob[:damaged_byte] + bytes([blob[damaged_byte] ^ 0xFF]) + blob[damaged_byte + 1 :]
            import io

            out.addfile(member, io.BytesIO(blob))
    target = tmp_path / "target"
    target.mkdir()
    (target / "site.sqlite3").write_bytes(b"the current register")
    with pytest.raises(BackupError, match="damaged"):
        restore(damaged, target)
    assert (target / "site.sqlite3").read_bytes() == b"the current register"
    with pytest.raises(BackupError, match="not a readable island backup"):
        read_manifest(tmp_path / "data" / "site.sqlite3")


@pytest.mark.e2e
def test_the_commands_back_up_and_restore_asking_first(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    registry = Registry(data / "site.sqlite3")
    registry.register("Anna Andersson", "070-1234567", ["safe"])
    registry.close()
    made = _island("backup", str(tmp_path / "backups"), "--data", str(data))
    assert made.returncode == 0, made.stderr
    assert "registry_records 1" in made.stdout
    archive = next((tmp_path / "backups").glob("odrift-backup-*.tar.gz"))

    (data / "site.sqlite3").unlink()
    refused = _island("restore", str(archive), "--data", str(data))  # no terminal, no --yes: nothing changes
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert not (data / "site.sqlite3").exists()

    done = _island("restore", str(archive), "--data", str(data), "--yes")
    assert done.returncode == 0, done.stderr
    db = sqlite3.connect(data / "site.sqlite3")
    try:
        assert db.execute("SELECT count(*) FROM registry_records").fetchone()[0] == 1
    finally:
        db.close()
