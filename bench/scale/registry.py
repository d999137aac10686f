"""The safe-and-well registry as it grows to 10k, 100k and 1M records.

One file on disk, grown step by step with the streaming import (its rate is a figure too).
At each size:
- lookups per second (hits, then misses) on one thread;
- the staff counts: ms per call;
- the export (JSON lines, then PFIF, by the real command) in a child process: seconds, and its
  peak memory as the child's own high-water mark (VmHWM), so nothing of this process counts;
- an expiry sweep of a day's worth of records (1/30 of the step's records expire at once)
  in the background sweeper's batches while a resident registers again and again: the slowest
  registration from half a second before the sweep to half a second after it; then the same
  resident for as long again with no sweep (at rest), so both slowest figures come from as many
  registrations (the disk's own fsync tail grows with the number of tries).

    .venv/bin/python -m bench.scale.registry [--quick] [--no-export] [--dir out]
    # --quick stops at 100k; --no-export leaves out the exports (minutes at 1M)
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.registry import bench as registry_bench  # noqa: E402
from bench.registry.bench import rate  # noqa: E402
from services.crisis_site.registry import (  # noqa: E402
    DEFAULT_TTL,
    PortableRecord,
    PortableUpdate,
    Registry,
    lookup_key,
    normalise_identifier,
    normalise_name,
)

SIZES = (10_000, 100_000, 1_000_000)
EXPIRING = 30  # one record in 30 expires in each step's sweep: a day's worth of 30 days


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def person(i: int) -> tuple[str, str]:
    return registry_bench.person(i, "Skalsson")


def records(first: int, last: int, now: float) -> Iterator[PortableRecord]:
    """People first..last-1 as another island would send them; every EXPIRING-th expires in a second."""
    for i in range(first, last):
        name, phone = person(i)
        key = lookup_key(normalise_name(name), normalise_identifier(phone) or "")
        code_hash = hashlib.sha256(f"code-{i}".encode()).hexdigest()
        expires = now + 1 if i % EXPIRING == 0 else now + DEFAULT_TTL
        yield PortableRecord(
            key, name, code_hash, now, expires, [PortableUpdate(now, ["safe", "at_point"], "Allt väl här")]
        )


def _hit(registry: Registry, live: list[int], i: int) -> object:
    """A lookup of a live record (step `i` of the hits)."""
    return registry.lookup(*person(live[i % len(live)]))


def _miss(registry: Registry, size: int, i: int) -> object:
    """A lookup of a person never registered (step `i` of the misses)."""
    return registry.lookup(*person(size + i))


# The child reports its own high-water mark (VmHWM) as it ends. Its ru_maxrss would not do: Linux
# carries the forking parent's peak across exec into it (this process's, over 100 MB).
_CHILD = (
    "import sys\n"
    "from services.crisis_site.registry_cli import main\n"
    "code = main(sys.argv[1:])\n"
    "status = open('/proc/self/status').read()\n"
    "print('peak-kB', status.split('VmHWM:')[1].split()[0], file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def export_in_child(db: Path, *options: str) -> tuple[float, float]:
    """(seconds, peak MB) of `registry_cli export` to /dev/null, measured in the child alone."""
    started = time.perf_counter()
    with open(os.devnull, "wb") as devnull:
        child = subprocess.run(
            [sys.executable, "-c", _CHILD, "export", "--db", str(db), *options],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=devnull,
            stderr=subprocess.PIPE,
            text=True,
        )
    if child.returncode != 0:
        raise SystemExit(f"bench-scale registry: export failed ({child.returncode}): {child.stderr[-500:]}")
    peak_kb = int(child.stderr.split("peak-kB ")[1].split()[0])
    return time.perf_counter() - started, peak_kb / 1024


def registrations(
    registry: Registry, start: int, during: Callable[[], None] | None = None, seconds: float = 1.0
) -> tuple[float, float]:
    """(slowest, p99) ms of a resident's back-to-back registrations over half of `seconds`, then
    `during()` (if any), then the other half."""
    took: list[float] = []
    stop = threading.Event()

    def resident() -> None:
        i = start
        while not stop.is_set():
            name, phone = person(i)
            began = time.perf_counter()
            registry.register(name, phone, ["safe"])
            took.append(time.perf_counter() - began)
            i += 1

    thread = threading.Thread(target=resident)
    thread.start()
    time.sleep(seconds / 2)
    if during is not None:
        during()
    time.sleep(seconds / 2)
    stop.set()
    thread.join()
    took.sort()
    return took[-1] * 1000, took[int(len(took) * 0.99)] * 1000


def sweep_under_registrations(
    registry: Registry, clock: Clock, start: int
) -> tuple[tuple[float, float], tuple[float, float], int, float]:
    """((slowest, p99) ms at rest, the same around a sweep, records swept, sweep seconds): at rest for
    as long as the sweep and its second around it took."""
    swept = [0, 0.0]

    def sweep() -> None:
        clock.now += 2  # the step's expiring records are now past their time
        began = time.perf_counter()
        swept[0] = registry.purge_expired()  # what the background sweeper runs, batch by batch
        swept[1] = time.perf_counter() - began

    began = time.perf_counter()
    around = registrations(registry, start, sweep)
    at_rest = registrations(registry, start + 10**5, seconds=time.perf_counter() - began)
    return at_rest, around, int(swept[0]), swept[1]


def main(argv: list[str] | None = None) -> list[tuple[str, str]]:
    p = argparse.ArgumentParser(prog="bench/scale/registry.py", description=__doc__)
    p.add_argument("--quick", action="store_true", help="stop at 100k records")
    p.add_argument("--seconds", type=float, default=2.0, help="per lookup measurement (default 2)")
    p.add_argument("--no-export", action="store_true", help="leave out the exports (minutes at 1M)")
    p.add_argument("--dir", default=str(ROOT / "out"), help="where the SQLite file goes (a real disk)")
    args, _ = p.parse_known_args(argv)
    sizes = SIZES[:2] if args.quick else SIZES
    Path(args.dir).mkdir(parents=True, exist_ok=True)
    figures: list[tuple[str, str]] = []

    def figure(name: str, value: str) -> None:
        print(f"{name}: {value}", flush=True)
        figures.append((name, value))

    with tempfile.TemporaryDirectory(dir=args.dir, prefix="bench-scale-registry-") as tmp:
        db = Path(tmp) / "registry.sqlite3"
        clock = Clock()
        registry = Registry(db, clock=clock, expire_every=None)  # swept by hand, at a known moment
        had = 0
        registered = 10**8  # the resident's people, apart from the imported ones
        for size in sizes:
            label = f"{size // 1000}k" if size < 1_000_000 else f"{size // 1_000_000}M"
            began = time.perf_counter()
            registry.import_records(records(had, size, clock.now))
            figure(
                f"scale registry import records/s to {label}",
                f"{(size - had) / (time.perf_counter() - began):.0f}",
            )
            had = size
            live = [i for i in range(0, size, 997) if i % EXPIRING]
            figure(
                f"scale registry lookup hits/s at {label}",
                f"{rate(partial(_hit, registry, live), args.seconds):.0f}",
            )
            figure(
                f"scale registry lookup misses/s at {label}",
                f"{rate(partial(_miss, registry, size), args.seconds):.0f}",
            )
            began = time.perf_counter()
            registry.counts()
            figure(
                f"scale registry staff counts ms at {label}", f"{(time.perf_counter() - began) * 1000:.1f}"
            )
            if not args.no_export:
                seconds, peak = export_in_child(db)
                figure(f"scale registry export s at {label}", f"{seconds:.1f}")
                figure(f"scale registry export peak MB at {label}", f"{peak:.0f}")
                seconds, peak = export_in_child(db, "--format", "pfif", "--domain", "odsbyn.odrift.se")
                figure(f"scale registry pfif export s at {label}", f"{seconds:.1f}")
                figure(f"scale registry pfif export peak MB at {label}", f"{peak:.0f}")
            at_rest, around, swept, sweep_seconds = sweep_under_registrations(registry, clock, registered)
            registered += 10**6
            figure(f"scale registry records swept at {label}", f"{swept} in {sweep_seconds:.2f} s")
            figure(f"scale registry registration p99 ms at rest at {label}", f"{at_rest[1]:.1f}")
            figure(f"scale registry registration p99 ms around sweep at {label}", f"{around[1]:.1f}")
            figure(f"scale registry slowest registration ms at rest at {label}", f"{at_rest[0]:.1f}")
            figure(f"scale registry slowest registration ms around sweep at {label}", f"{around[0]:.1f}")
        registry.close()
    return figures


if __name__ == "__main__":
    main(sys.argv[1:])
