"""The resolver's cost as its cache grows (issue 18): memory, garbage-collection pauses, the crisis name's p99.

The real resolver process (``python -m services.resolver``, its gc tuning included) runs
behind an upstream that answers any name at once (an A record, or NXDOMAIN with an SOA
for names starting ``nx``). The cache is filled with random names, half of each, to
0, 10,000 and 100,000 entries (its configured maximum); at each size the resolver's RSS,
the bytes per entry (RSS grown since 0, per entry) and the worst GC pause (timed with
gc.callbacks inside the resolver, in CPU time of the collecting thread: every collection
during the fill, and one full collection forced at that size) are printed. Then the
crisis name (a local name) is asked at a steady rate, in segments taking turns: at rest, while
another process, a resident, asks random names at ``--fill-rate`` (the full cache then evicts
one answer per name), and while it asks as many cached names (a control); the p99s are
compared, and then measured the same way on Unbound (the anchor).

Prints one line per figure, among them:
  scale resolver bytes per entry at 100k: N
  scale resolver worst pause ms at 100k: N

``main(argv)`` returns the figures as (name, value) pairs for `make bench-scale`'s table.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import select
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench.dns.run import ensure_tools, unbound_server_lines

HOST = "127.0.0.1"
ROOT = (
    Path(__file__).resolve().parents[2]
)  # where `-m bench.scale.resolver` is found, whatever the runner's cwd
LOCAL_NAME = "krisinfo.kommun.example"
SIZES = (0, 10_000, 100_000)
_A_RECORD = bytes.fromhex("c00c00010001000151800004c0000201")  # the question's name, A 192.0.2.1, TTL 1 day
_SOA_RDATA = b"\x02ns\x07example\x00\x04host\x07example\x00" + struct.pack("!5I", 1, 3600, 600, 86400, 3600)
_SOA_RECORD = bytes.fromhex("c00c00060001") + struct.pack("!IH", 3600, len(_SOA_RDATA)) + _SOA_RDATA


def label(size: int) -> str:
    return f"{size // 1000}k" if size >= 1000 else str(size)


def wire_query(name: str, query_id: int) -> bytes:
    labels = b"".join(bytes([len(part)]) + part.encode() for part in name.split("."))
    return struct.pack("!6H", query_id, 0x0100, 1, 0, 0, 0) + labels + b"\x00\x00\x01\x00\x01"


def random_names(seed: int) -> Iterator[str]:
    """Distinct names nobody asked before, half of them NXDOMAIN at the upstream."""
    rng = random.Random(seed)
    count = 0
    while True:
        prefix = "nx" if count % 2 else "r"
        yield f"{prefix}{rng.getrandbits(40):010x}{count:x}.fill{seed}.example"
        count += 1


# The processes --------------------------------------------------------------------------------


def run_upstream(port: int) -> None:
    """Answer every query at once, from its bytes: the outside world as fast as it gets."""
    from services.dns.wire import question_end

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sock.bind((HOST, port))
    while True:
        data, client = sock.recvfrom(4096)
        end = question_end(data)
        if end is None:
            continue
        negative = data[13:15] == b"nx"
        flags = 0x8400 | (data[2] & 0x01) << 8 | (3 if negative else 0)  # QR, AA, RD echoed, NXDOMAIN
        counts = (1, 0, 1, 0) if negative else (1, 1, 0, 0)
        header = data[:2] + struct.pack("!5H", flags, *counts)
        sock.sendto(header + data[12:end] + (_SOA_RECORD if negative else _A_RECORD), client)


class CollectionTimer:
    """A gc callback timing every collection by the CPU time of the thread that runs it: the
    collection's own work, whatever else the process or the machine does meanwhile.

    Not by the wall clock: the callback is Python code, so the interpreter may hand the GIL to
    another thread inside it, for up to a switch interval (5 ms) or more, and on a shared machine
    the kernel may run another process. Both were measured as "pauses" of 5-24 ms around
    collections that took 0.2 ms of work (tests/bench/test_scale_resolver.py); the wall-clock
    worst is kept beside, to show the difference.
    """

    def __init__(self) -> None:
        self.worst_cpu = self.worst_wall = 0.0
        self._started = (0.0, 0.0)

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = (time.thread_time(), time.perf_counter())
        else:
            cpu, wall = self._started
            self.worst_cpu = max(self.worst_cpu, time.thread_time() - cpu)
            self.worst_wall = max(self.worst_wall, time.perf_counter() - wall)

    def take(self) -> tuple[float, float]:
        """The longest collection since the last take, (CPU, wall clock) in seconds."""
        worst = self.worst_cpu, self.worst_wall
        self.worst_cpu = self.worst_wall = 0.0
        return worst


def run_resolver(config: str) -> None:
    """The resolver as `python -m services.resolver` runs it, timing every garbage collection.

    A line on stdin asks for the longest collection since the last line, then forces a full
    one; the answer is one JSON line on stdout, in ms of CPU (and of wall clock), with the
    number of objects the collector tracked before it.
    """
    import gc
    import threading

    timer = CollectionTimer()

    def control() -> None:
        for _ in sys.stdin:
            during, during_wall = timer.take()
            tracked = len(gc.get_objects())  # what the forced collection walks (the frozen start-up aside)
            gc.collect()
            full, full_wall = timer.take()
            ms = {
                "during_ms": during,
                "full_ms": full,
                "during_wall_ms": during_wall,
                "full_wall_ms": full_wall,
            }
            print(
                json.dumps({name: seconds * 1000 for name, seconds in ms.items()} | {"tracked": tracked}),
                flush=True,
            )

    gc.callbacks.append(timer)
    threading.Thread(target=control, daemon=True).start()
    from services.resolver.__main__ import main as resolver_main

    sys.exit(resolver_main(["--config", config]))


def run_filler(port: int, rate: float, start: float, segment: float, segments: int, seed: int) -> None:
    """A resident asking names at ``rate`` per second in the segments of the schedule (see
    ``local_latency``): new random names (``random_names(seed)``) in the random fill's segments, the
    control's names (cached before the schedule starts) in the cached fill's, nothing at rest."""
    new_names = random_names(seed)
    for index in range(segments):
        condition = condition_of(index)
        if condition == "at rest":
            continue
        names = new_names if condition == "random fill" else random_names(CONTROL_SEED)  # the same each time
        time.sleep(max(0.0, start + index * segment - time.monotonic()))
        fill(port, (next(names) for _ in range(int(rate * segment))), window=64, rate=rate)


def fill(
    port: int, names: Iterator[str], *, window: int, rate: float | None = None, give_up: float = 2.0
) -> tuple[int, int]:
    """Ask each name once, at most ``window`` unanswered at a time; (answered, lost: unanswered when
    nothing came for ``give_up`` seconds).

    With a ``rate``, each query is sent when it is due and the process sleeps in between: a resident's
    phone is another machine, so the filler must not take more of this one's CPU than sending and
    reading its queries does (waking every millisecond to look took 5% of a core).
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sock.connect((HOST, port))
    sock.setblocking(False)
    answered = lost = waiting = sent = 0
    started = last_heard = time.monotonic()
    exhausted = False
    while True:
        now = time.monotonic()
        while not exhausted and waiting < window and (rate is None or sent <= (now - started) * rate):
            name = next(names, None)
            if name is None:
                exhausted = True
                break
            if not waiting:
                last_heard = now  # the wait counts from the first query waiting
            sock.send(wire_query(name, sent & 0xFFFF))
            sent += 1
            waiting += 1
        if exhausted and not waiting:
            break
        if waiting and now - last_heard > give_up:  # what is still unanswered is lost
            lost += waiting
            waiting = 0
            continue
        pause = give_up - (now - last_heard) if waiting else give_up
        if rate is not None and not exhausted and waiting < window:
            pause = min(pause, started + sent / rate - now)  # until the next query is due
        readable, _, _ = select.select([sock], [], [], max(pause, 0.0))
        if not readable:
            continue
        last_heard = time.monotonic()
        while True:
            try:
                sock.recv(4096)
            except BlockingIOError:
                break
            answered += 1
            waiting = max(0, waiting - 1)  # an answer to a query already counted lost is not waited for
    sock.close()
    return answered, lost


# Measuring ------------------------------------------------------------------------------------


class Resolver:
    def __init__(self, workdir: Path, upstream_port: int, max_entries: int) -> None:
        self.port, self.metrics_port = free_port(), free_port()
        config = {
            "listen": {"host": HOST, "port": self.port},
            "local_zones": [{"name": LOCAL_NAME, "type": "static", "data": "@ 30 IN A 10.20.0.10\n"}],
            "upstreams": [{"host": HOST, "port": upstream_port}],
            "allow": ["127.0.0.0/8"],
            "cache": {"max_entries": max_entries},
            "metrics": {"host": HOST, "port": self.metrics_port},
        }
        path = workdir / "resolver.json"
        path.write_text(json.dumps(config))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.scale.resolver", "resolver", str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=open(workdir / "resolver.log", "wb"),
            text=True,
            cwd=ROOT,
        )
        wait_answering(self.port)

    def stop(self) -> None:
        stop(self.process)

    def pauses(self) -> dict[str, float]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write("pauses\n")
        self.process.stdin.flush()
        result: dict[str, float] = json.loads(self.process.stdout.readline())
        return result

    def cpu_seconds(self) -> float:
        """The resolver process's CPU time so far (user and system)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_bytes(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS")

    def cache_entries(self) -> int:
        with urllib.request.urlopen(f"http://{HOST}:{self.metrics_port}/metrics", timeout=5) as response:
            for line in response.read().decode().splitlines():
                if line.startswith("island_resolver_cache_entries "):
                    return int(float(line.split()[1]))
        return 0


class Unbound:
    """Unbound, the anchor, in front of the same upstream: the crisis name in a static local zone, every
    other name forwarded and cached (room for far more than the fill's names), one thread."""

    def __init__(self, process: subprocess.Popen[Any], port: int) -> None:
        self.process, self.port = process, port

    @classmethod
    def start(cls, workdir: Path, upstream_port: int, args: argparse.Namespace) -> Unbound | None:
        if args.no_anchor:
            return None
        try:
            ensure_tools(["unbound"], "the anchor of bench-scale's resolver p99")
        except SystemExit as exc:
            print(f"  no anchor: {exc}", flush=True)
            return None
        port = free_port()
        config = unbound_server_lines(HOST, port, workdir) + [
            "  do-not-query-localhost: no",
            "  msg-cache-size: 64m",
            "  rrset-cache-size: 128m",
            f'  local-zone: "{LOCAL_NAME}." static',
            f'  local-data: "{LOCAL_NAME}. 30 IN A 10.20.0.10"',
            "forward-zone:",
            '  name: "."',
            f"  forward-addr: {HOST}@{upstream_port}",
        ]
        (workdir / "unbound.conf").write_text("\n".join(config) + "\n")
        binary = shutil.which("unbound") or "/usr/sbin/unbound"
        process = subprocess.Popen(
            [binary, "-c", str(workdir / "unbound.conf")],
            stdout=subprocess.DEVNULL,
            stderr=open(workdir / "unbound.log", "wb"),
        )
        wait_answering(port)
        return cls(process, port)

    def __enter__(self) -> Unbound:
        return self

    def __exit__(self, *exc: object) -> None:
        stop(self.process)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind((HOST, 0))
        return int(udp.getsockname()[1])


def wait_answering(port: int, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.3)
        while time.monotonic() < deadline:
            try:
                sock.sendto(wire_query(LOCAL_NAME, 1), (HOST, port))
                sock.recv(512)
                return
            except OSError:
                time.sleep(0.1)
    raise RuntimeError(f"nothing answers on {HOST}:{port}")


def probe(port: int, rate: float, seconds: float) -> tuple[list[tuple[float, float]], int]:
    """The crisis name asked ``rate`` times a second: (when sent, round trip) in seconds for each query
    (time.monotonic(); a round trip of 1.0 for one with no answer), and how many got none."""
    samples: list[tuple[float, float]] = []
    lost = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect((HOST, port))
        sock.settimeout(1.0)
        started = time.monotonic()
        for i in range(int(rate * seconds)):
            delay = started + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            query = wire_query(LOCAL_NAME, i & 0xFFFF)
            asked, sent = time.monotonic(), time.perf_counter()
            sock.send(query)
            try:
                while sock.recv(512)[:2] != query[:2]:
                    pass  # a late answer to an earlier query
            except TimeoutError:
                lost += 1
                samples.append((asked, 1.0))
                continue
            samples.append((asked, time.perf_counter() - sent))
    return samples, lost


CONDITIONS = ("at rest", "random fill", "cached fill")


def condition_of(segment: int) -> str:
    """The schedule: the conditions in turn, their order rotating each cycle, so that each follows each
    other alike (the first seconds after a quiet one are slower on this virtual machine, whatever comes)."""
    cycle, place = divmod(segment, len(CONDITIONS))
    return CONDITIONS[(place + cycle) % len(CONDITIONS)]


CONTROL_SEED = 2  # the names the control asks: cached just before the measurement
GUARD = 0.5  # seconds at the start of each segment not counted: the filler's onset, the last one's answers


def local_latency(port: int, args: argparse.Namespace) -> dict[str, tuple[list[float], int]]:
    """The crisis name's round trips in three conditions, taking turns in segments of ``--segment`` s.

    At rest; while a resident asks random names (each one new: forwarded, cached, another evicted);
    and, as a control, while the resident asks as many names cached a moment ago (answered from the
    cache: the same processes and packets on this machine, without the resolver's work for a new
    name). One filler process follows the schedule (``condition_of``) and the probe asks throughout;
    each answer counts for the segment it was asked in. The conditions take turns, so that whatever
    else the shared machine does weighs on all three alike; the first ``GUARD`` seconds of each segment are not counted, so that each measures a
    resident asking steadily. Each condition's (latencies, unanswered).
    """
    segments = len(CONDITIONS) * args.cycles
    # The control's names, cached now; below the resolver's work limit (200 new names a second from one
    # address, bench-hostile), so that none is dropped and each is a cache hit in the measurement.
    names = random_names(CONTROL_SEED)
    fill(port, (next(names) for _ in range(int(args.fill_rate * args.segment))), window=64, rate=150)
    start = time.monotonic() + 1.5  # the filler is under way
    filler = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.scale.resolver",
            "filler",
            str(port),
            str(args.fill_rate),
            str(start),
            str(args.segment),
            str(segments),
            "10",
        ],
        cwd=ROOT,
    )
    try:
        time.sleep(max(0.0, start - time.monotonic()))
        samples, _ = probe(port, args.probe_rate, segments * args.segment)
    finally:
        filler.wait(30)
    measured: dict[str, tuple[list[float], int]] = {condition: ([], 0) for condition in CONDITIONS}
    for sent, latency in samples:
        index, into = divmod(sent - start, args.segment)
        if into < GUARD or index >= segments:
            continue
        condition = condition_of(int(index))
        latencies, lost = measured[condition]
        latencies.append(latency)
        measured[condition] = (latencies, lost + (latency >= 1.0))
    return measured


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def p99(values: list[float]) -> float:
    return percentile(values, 0.99)


def main(argv: list[str] | None = None) -> list[tuple[str, str]]:
    parser = argparse.ArgumentParser(
        prog="python -m bench.scale.resolver", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="cache sizes to measure at")
    parser.add_argument("--window", type=int, default=64, help="unanswered fill queries at a time")
    parser.add_argument("--probe-rate", type=float, default=200, help="crisis-name queries per second")
    parser.add_argument(
        "--no-anchor", action="store_true", help="skip Unbound's p99s (the anchor, installed when missing)"
    )
    parser.add_argument("--segment", type=float, default=5.0, help="seconds of each condition in turn")
    parser.add_argument(
        "--cycles",
        type=int,
        default=9,
        help="segments of each condition (9 of 5 s: 8,100 queries each counted, the p99 the 81st slowest)",
    )
    parser.add_argument(
        "--fill-rate",
        type=float,
        default=200,
        help="the resident's random names per second (below what the resolver can take)",
    )
    args = parser.parse_args(argv)
    sizes = sorted(int(s) for s in args.sizes.split(","))
    figures: list[tuple[str, str]] = []

    def figure(name: str, value: str) -> None:
        print(f"{name}: {value}", flush=True)
        figures.append((name, value))

    with tempfile.TemporaryDirectory(prefix="bench-scale-resolver-") as tmp:
        workdir = Path(tmp)
        upstream_port = free_port()
        upstream = subprocess.Popen(
            [sys.executable, "-m", "bench.scale.resolver", "upstream", str(upstream_port)],
            cwd=ROOT,
        )
        resolver = None
        try:
            resolver = Resolver(workdir, upstream_port, max(max(sizes), 1))
            resolver.pauses()  # what start-up left behind is collected before anything is measured
            names = random_names(seed=1)
            rss_at_zero = resolver.rss_bytes()
            cached = 0
            for size in sizes:
                started, cpu_before = time.monotonic(), resolver.cpu_seconds()
                answered, lost = fill(
                    resolver.port, (next(names) for _ in range(size - cached)), window=args.window
                )
                cached = size
                seconds = time.monotonic() - started
                cpu = resolver.cpu_seconds() - cpu_before
                entries = resolver.cache_entries()
                pauses = resolver.pauses()
                rss = resolver.rss_bytes()
                at = label(size)
                print(
                    f"  filled to {entries} cached names in {seconds:.1f} s ({lost} fill queries lost)",
                    flush=True,
                )
                figure(f"scale resolver rss MB at {at}", f"{rss / 2**20:.1f}")
                if entries:
                    figure(f"scale resolver bytes per entry at {at}", f"{(rss - rss_at_zero) / entries:.0f}")
                figure(
                    f"scale resolver worst pause ms at {at}",
                    f"{max(pauses['during_ms'], pauses['full_ms']):.2f}",
                )
                if answered:
                    # The resolver's CPU per answered fill query: a new outside name, forwarded and cached.
                    figure(f"scale resolver cpu us per new name to {at}", f"{cpu / answered * 1e6:.0f}")
                print(
                    f"  (CPU of the longest collection during the fill {pauses['during_ms']:.2f} ms, "
                    f"of a full collection at {at} {pauses['full_ms']:.2f} ms; by the wall clock, "
                    f"with any wait for the GIL or a CPU, {pauses['during_wall_ms']:.2f} "
                    f"and {pauses['full_wall_ms']:.2f} ms; {pauses['tracked']:.0f} objects tracked before it)",
                    flush=True,
                )
            latency_figures(figure, "resolver", resolver.port, args)
            print(f"  (cache {resolver.cache_entries()} names after)", flush=True)
            resolver.stop()
            resolver = None
            anchor = Unbound.start(workdir, upstream_port, args)
            if anchor is not None:
                with anchor:
                    answered, lost = fill(
                        anchor.port, (next(names) for _ in range(max(sizes))), window=args.window
                    )
                    print(
                        f"  Unbound, the anchor, asked {answered} random names ({lost} unanswered)",
                        flush=True,
                    )
                    latency_figures(figure, "unbound", anchor.port, args)
        finally:
            if resolver is not None:
                resolver.stop()
            stop(upstream)
    return figures


def latency_figures(
    figure: Callable[[str, str], None], who: str, port: int, args: argparse.Namespace
) -> None:
    """The crisis name's p99s on the server at ``port`` (``who``: resolver, or unbound, the anchor)."""
    measured = local_latency(port, args)
    (at_rest, lost_at_rest), (under_fill, lost_under_fill) = measured["at rest"], measured["random fill"]
    rest_p99, fill_p99 = p99(at_rest), p99(under_fill)
    figure(f"scale {who} local p99 ms at rest", f"{rest_p99 * 1000:.2f}")
    figure(
        f"scale {who} local p99 ms under a random fill of {args.fill_rate:.0f}/s", f"{fill_p99 * 1000:.2f}"
    )
    figure(f"scale {who} local p99 ratio fill/rest", f"{fill_p99 / rest_p99:.2f}")
    figure(
        f"scale {who} local p99 ms under a fill of {args.fill_rate:.0f}/s cached names (control)",
        f"{p99(measured['cached fill'][0]) * 1000:.2f}",
    )
    print(
        f"  ({len(at_rest)} crisis-name queries in each condition, {args.cycles} segments of "
        f"{args.segment:g} s each, interleaved; "
        f"{lost_at_rest} and {lost_under_fill} unanswered at rest and under the random fill; "
        + "; ".join(
            f"{condition} p50 {percentile(values, 0.5) * 1000:.2f}, p90 {percentile(values, 0.9) * 1000:.2f}"
            f", p99.9 {percentile(values, 0.999) * 1000:.2f} ms"
            for condition, (values, _) in measured.items()
        )
        + ")",
        flush=True,
    )


def stop(process: subprocess.Popen[Any]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


if __name__ == "__main__":
    role = sys.argv[1] if len(sys.argv) > 1 else ""
    if role == "upstream":
        run_upstream(int(sys.argv[2]))
    elif role == "resolver":
        run_resolver(sys.argv[2])
    elif role == "filler":
        run_filler(
            int(sys.argv[2]),
            rate=float(sys.argv[3]),
            start=float(sys.argv[4]),
            segment=float(sys.argv[5]),
            segments=int(sys.argv[6]),
            seed=int(sys.argv[7]),
        )
    else:
        main(sys.argv[1:])
