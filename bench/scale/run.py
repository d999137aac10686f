"""make bench-scale: how the crisis page, the resolver's cache and the registry behave as their
work grows 10x and 100x (issue 18).

Runs bench/scale/page.py (the page at 1, 10, 50 and 200 messages), bench/scale/resolver.py when
it is there (its main(argv) returns (name, value) pairs), and bench/scale/registry.py (10k, 100k
and 1M records; --quick stops at 100k). Each prints one line per figure as it goes; at the end
a table of every figure, then the five headline lines against their goals:

    scale page gzip bytes at 200 messages: N                         (goal <= 14336, 14 KB)
    scale resolver bytes per entry at 100k: N                        (goal <= 600)
    scale resolver worst pause ms at 100k: N                         (goal <= 5)
    scale registry export peak MB at 1M: N                           (goal <= 100)
    scale registry slowest registration ms around sweep at 1M: N     (goal <= 50)

A figure a part did not measure (no resolver part, or --quick) prints as "not measured".
Arguments after the runner's own go to every part (each takes what it knows).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

Figures = list[tuple[str, str]]

HEADLINES = (
    ("scale page gzip bytes at 200 messages", 14 * 1024),
    ("scale resolver bytes per entry at 100k", 600),
    ("scale resolver worst pause ms at 100k", 5),
    ("scale registry export peak MB at 1M", 100),
    ("scale registry slowest registration ms around sweep at 1M", 50),
)


def _part(name: str) -> Callable[[list[str]], Figures] | None:
    if not (ROOT / "bench" / "scale" / f"{name}.py").exists():
        return None
    main: Callable[[list[str]], Figures] = importlib.import_module(f"bench.scale.{name}").main
    return main


def _number(value: str) -> float | None:
    try:
        return float(value.split()[0])
    except (ValueError, IndexError):
        return None


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    figures: Figures = []
    for name in ("page", "resolver", "registry"):
        part = _part(name)
        if part is None:
            print(f"scale {name}: no bench/scale/{name}.py here, skipped", flush=True)
            continue
        print(f"--- scale {name}", flush=True)
        figures += part(argv)
    width = max((len(n) for n, _ in figures), default=10)
    print("\n" + "figure".ljust(width) + "  value")
    print("-" * width + "  -----")
    for name, value in figures:
        print(f"{name.ljust(width)}  {value}")
    print()
    found = dict(figures)
    met = True
    for name, goal in HEADLINES:
        measured = found.get(name)
        number = _number(measured) if measured is not None else None
        verdict = ""
        if number is not None:
            verdict = f" (goal <= {goal:g}: {'met' if number <= goal else 'NOT met'})"
        met = met and (number is None or number <= goal)
        print(f"{name}: {measured if measured is not None else 'not measured'}{verdict}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
