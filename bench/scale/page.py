"""The crisis page as the number of active messages grows: its gzip bytes, pages and speed.

For 1, 10, 50 and 200 distinct messages of realistic length: the first page's gzip bytes (what
a phone gets in its first round trip; the budget is paging.PAGE_BUDGET), how many pages the
messages take, how long laying out the Swedish pages takes (once per change), and requests
per second of GET / with gzip from the real server (one uvicorn worker with the protocol-level
fast path) driven by a Python client over keep-alive connections, with the server's requests
per CPU-second beside it (steadier on a shared machine).

    .venv/bin/python -m bench.scale.page [--seconds S] [--messages 1,10,50,200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from services.crisis_site.app import DEMO_CONTENT, Site, SiteConfig  # noqa: E402

WORDS = (
    "vatten ström kommunen arbetar med att laga ledningen invånare ska koka dricksvattnet Storgatan "
    "Hamnvägen skolan vårdcentralen bussarna går inte reservkraft tankbil ställs ut vid torget klockan "
    "räddningstjänsten evakuerar boende stängd väg omledning via länsväg brandrisk rök stäng fönster"
).split()


def _headline(i: int, rnd: random.Random) -> str:
    return f"{rnd.choice(WORDS).capitalize()} {rnd.choice(WORDS)} vid {rnd.randrange(1, 99)}"


def seed(
    count: int,
    folder: Path,
    *,
    severe_at: int = 0,
    headline: Callable[[int, random.Random], str] = _headline,
) -> Path:
    """The demo seed with `count` distinct active messages of realistic length (message `severe_at`
    Severe, the rest milder), the same for the same count. Also the page-budget tests' seed."""
    rnd = random.Random(count)
    data = yaml.safe_load(DEMO_CONTENT.read_text(encoding="utf-8"))
    start = datetime(2025, 1, 14, 6, 0, tzinfo=UTC)
    data["messages"] = [
        {
            "identifier": f"msg-{i}",
            "sender": "Sjöbacka kommun, krisledningen",
            "sent": (start + timedelta(minutes=i)).isoformat(),
            "severity": "Severe" if i == severe_at else rnd.choice(["Moderate", "Minor", "Unknown"]),
            "area": f"Sjöbacka, område {rnd.randrange(100, 999)}",
            "info": [
                {
                    "language": "sv",
                    "headline": headline(i, rnd),
                    "description": " ".join(rnd.choice(WORDS) for _ in range(45))
                    + f" ({rnd.randrange(10**6)}).",
                    "instruction": "\n".join(" ".join(rnd.choice(WORDS) for _ in range(6)) for _ in range(2)),
                }
            ],
        }
        for i in range(count)
    ]
    path = folder / f"seed-{count}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def layout(path: Path) -> tuple[int, int, float]:
    """(first page's gzip bytes, pages, ms to lay out the Swedish pages) in-process."""
    site = Site(SiteConfig(seed=path))
    started = time.perf_counter()
    first = site.cache.get("page", "sv")
    elapsed = (time.perf_counter() - started) * 1000
    site.store.close()
    return len(first.gzipped), first.parts, elapsed


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _client(port: int, deadline: float, counts: list[int]) -> None:
    request = b"GET / HTTP/1.1\r\nHost: krisinfo.kommun.example\r\nAccept-Encoding: gzip\r\n\r\n"
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < deadline:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length: ", 1)[1].split(b"\r\n", 1)[0])
            await reader.readexactly(length)
            counts[0] += 1
    finally:
        writer.close()


def load(port: int, seconds: float, connections: int = 16) -> float:
    counts = [0]

    async def run() -> None:
        deadline = time.perf_counter() + seconds
        await asyncio.gather(*(_client(port, deadline, counts) for _ in range(connections)))

    started = time.perf_counter()
    asyncio.run(run())
    return counts[0] / (time.perf_counter() - started)


def serve(path: Path, seconds: float) -> tuple[float, float]:
    """(requests per second, requests per server CPU-second) of GET / with gzip."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "services.crisis_site", "--content", str(path), "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("bench-scale page: the site did not start") from None
                time.sleep(0.2)
        load(port, 0.5)  # warm up
        cpu = cpu_seconds(server.pid)
        rps = load(port, seconds)
        used = cpu_seconds(server.pid) - cpu
        return rps, rps * seconds / used if used > 0 else float("nan")
    finally:
        server.terminate()
        server.wait(10)


def main(argv: list[str] | None = None) -> list[tuple[str, str]]:
    p = argparse.ArgumentParser(prog="bench/scale/page.py", description=__doc__)
    p.add_argument("--seconds", type=float, default=3.0, help="load per message count (default 3)")
    p.add_argument("--messages", default="1,10,50,200")
    args, _ = p.parse_known_args(argv)
    figures: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="bench-scale-page-") as tmp:
        for count in (int(n) for n in args.messages.split(",")):
            path = seed(count, Path(tmp))
            size, parts, ms = layout(path)
            rps, per_cpu = serve(path, args.seconds)
            for name, value in (
                (f"scale page gzip bytes at {count} messages", f"{size}"),
                (f"scale page pages at {count} messages", f"{parts}"),
                (f"scale page layout ms at {count} messages", f"{ms:.1f}"),
                (f"scale page rps at {count} messages", f"{rps:.0f}"),
                (f"scale page requests per server cpu-second at {count} messages", f"{per_cpu:.0f}"),
            ):
                print(f"{name}: {value}", flush=True)
                figures.append((name, value))
    return figures


if __name__ == "__main__":
    main(sys.argv[1:])
