"""make bench-registry: safe-and-well registrations and lookups per second, against bare SQLite.

One core (this process is pinned to core 0), a real file on disk, durable commits (WAL,
synchronous=FULL) for both. The anchor is the cheapest thing that could do the same job:
one bare INSERT per committed transaction, and one bare indexed SELECT, with the same pragmas.
Ours adds normalisation, the hashed key and code, the expiry purge and the second row.
These machines are shared and noisy: the ratio is what counts, never a bare number.

Measured on the store, in-process, not over HTTP (the HTTP layer is measured by bench-http).
Ends with
    registry registrations/s: island=N sqlite=M ratio=R (goal 500)
    registry lookups/s: island=N sqlite=M ratio=R (goal 2000)
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from services.crisis_site.registry import Registry  # noqa: E402


def rate(step: Callable[[int], object], seconds: float) -> float:
    """Calls per second of step(i), run for about `seconds`."""
    start = time.perf_counter()
    i = 0
    while True:
        step(i)
        i += 1
        if i % 50 == 0 and time.perf_counter() - start >= seconds:
            return i / (time.perf_counter() - start)


def person(i: int, family: str = "Benchsson") -> tuple[str, str]:
    """Person `i`'s name and phone number: distinct for every i below ten million."""
    return f"Person Nummer{i} {family}", f"070-{i // 10000 % 1000:03d} {i % 10000:04d}"


def bare_db(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT NOT NULL, v TEXT NOT NULL)")
    db.execute("CREATE INDEX t_k ON t (k)")
    return db


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="make bench-registry", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--seconds", type=float, default=5.0, help="per measurement (default 5)")
    p.add_argument(
        "--dir", default=str(ROOT / "out"), help="where the SQLite files go (a real disk, not tmpfs)"
    )
    args = p.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})
    Path(args.dir).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="bench-registry-") as tmp:
        bare = bare_db(Path(tmp) / "bare.sqlite3")

        def bare_insert(i: int) -> None:
            bare.execute("BEGIN IMMEDIATE")
            bare.execute("INSERT INTO t (k, v) VALUES (?, ?)", (f"{i:064d}", "safe"))
            bare.execute("COMMIT")

        registry = Registry(Path(tmp) / "registry.sqlite3")

        def register(i: int) -> None:
            name, phone = person(i)
            registry.register(name, phone, ["safe", "with_family"], "Hälsningar till alla")

        sqlite_writes = rate(bare_insert, args.seconds)
        island_writes = rate(register, args.seconds)
        stored = registry.count()
        picks = random.Random(7)
        bare_rows = bare.execute("SELECT COUNT(*) FROM t").fetchone()[0]

        def bare_lookup(i: int) -> None:
            assert bare.execute(
                "SELECT v FROM t WHERE k = ?", (f"{picks.randrange(bare_rows):064d}",)
            ).fetchall()

        def lookup(i: int) -> None:
            name, phone = person(picks.randrange(stored))
            assert registry.lookup(name, phone)

        sqlite_reads = rate(bare_lookup, args.seconds)
        island_reads = rate(lookup, args.seconds)
        registry.close()
        bare.close()
    print(
        f"registry registrations/s: island={island_writes:.0f} sqlite={sqlite_writes:.0f} "
        f"ratio={island_writes / sqlite_writes:.2f} (goal 500)"
    )
    print(
        f"registry lookups/s: island={island_reads:.0f} sqlite={sqlite_reads:.0f} "
        f"ratio={island_reads / sqlite_reads:.2f} (goal 2000)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
