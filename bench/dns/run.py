"""`make bench-dns`: the island resolver against Unbound on the island's own names, in the same run.

Both serve the same local zone, each pinned to one core (taskset), dnsperf on the other.
Measures the highest rate each answers (with and without EDNS), then the island's
latency for local names at a steady rate while its uplink answers and while it is
black-holed. Installs dnsperf and unbound from Debian's packages when missing.

Prints, last:  dns local-zone qps: island=N unbound=M ratio=R
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ZONE = "krisinfo.kommun.example"
# The island's own names: data, NODATA and NXDOMAIN answers, as residents' phones ask them.
LOCAL_DATA = [("@", "A", "10.20.0.10"), ("www", "A", "10.20.0.10"), ("karta", "A", "10.20.0.11")] + [
    (f"tp{i}", "A", f"10.20.1.{i}") for i in range(1, 21)
]
OUTSIDE_ZONE = "bank.example"  # what the island's uplink serves in the latency runs


@dataclass
class Result:
    qps: float
    sent: int
    completed: int
    lost: int


# Parsing dnsperf's output ----------------------------------------------------------------


def parse_summary(text: str) -> Result:
    """The figures of dnsperf's closing statistics."""

    def number(pattern: str) -> float:
        found = re.search(pattern, text)
        if not found:
            raise ValueError(f"dnsperf output has no {pattern!r}:\n{text[-2000:]}")
        return float(found.group(1))

    return Result(
        qps=number(r"Queries per second:\s+([\d.]+)"),
        sent=int(number(r"Queries sent:\s+(\d+)")),
        completed=int(number(r"Queries completed:\s+(\d+)")),
        lost=int(number(r"Queries lost:\s+(\d+)")),
    )


_VERBOSE = re.compile(r"^> (\S+) (\S+) (\S+) ([\d.]+)\s*$")


def parse_latencies(text: str, suffix: str) -> list[float]:
    """Seconds per answered query whose name ends with ``suffix`` (dnsperf -v lines: `> RCODE name type secs`)."""
    latencies = []
    for line in text.splitlines():
        found = _VERBOSE.match(line)
        if found and found.group(2).rstrip(".").lower().endswith(suffix):
            latencies.append(float(found.group(4)))
    return latencies


def percentile(values: list[float], p: float) -> float:
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)  # nearest rank
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))]


def summary_line(island: float, unbound: float, ratio: float | None = None) -> str:
    """The closing line; ``ratio`` defaults to island/unbound (the run passes its paired median)."""
    if ratio is None:
        ratio = island / unbound if unbound else float("nan")
    return f"dns local-zone qps: island={island:.0f} unbound={unbound:.0f} ratio={ratio:.2f}"


# Setting up ---------------------------------------------------------------------------------


def ensure_tools(packages: Sequence[str] = ("dnsperf", "unbound"), who: str = "bench-dns") -> None:
    """Install the Debian packages (each named as its command) that are missing; exits when not root."""
    missing = [tool for tool in packages if not shutil.which(tool) and not Path(f"/usr/sbin/{tool}").exists()]
    if not missing:
        return
    if os.geteuid() != 0:
        sys.exit(
            f"{who} needs {', '.join(missing)}: install them (apt-get install {' '.join(missing)}) or run as root"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    print(f"installing {', '.join(missing)} from Debian's packages ...", flush=True)
    install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing]
    if subprocess.run(install, env=env, stdout=subprocess.DEVNULL).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=True, stdout=subprocess.DEVNULL)
        subprocess.run(install, env=env, check=True, stdout=subprocess.DEVNULL)


def zone_records() -> list[str]:
    soa = f"{ZONE}. 3600 IN SOA ns.{ZONE}. hostmaster.{ZONE}. 1 3600 600 86400 30"
    names = [ZONE if n == "@" else f"{n}.{ZONE}" for n, _, _ in LOCAL_DATA]
    return [soa] + [f"{name}. 30 IN {t} {v}" for name, (_, t, v) in zip(names, LOCAL_DATA)]


def local_queries() -> list[str]:
    names = [ZONE if n == "@" else f"{n}.{ZONE}" for n, _, _ in LOCAL_DATA]
    queries = [f"{n} A" for n in names]
    queries += [f"{n} AAAA" for n in names[:5]]  # NODATA
    queries += [f"nosuch{i}.{ZONE} A" for i in range(5)]  # NXDOMAIN
    return queries


def mixed_queries(rng: random.Random, count: int = 20000) -> list[str]:
    """Mostly local names, one in ten an outside name (new ones too, which the uplink must answer)."""
    local = local_queries()
    lines = []
    for _ in range(count):
        if rng.random() < 0.1:
            lines.append(f"www{rng.randrange(5000)}.{OUTSIDE_ZONE} A")
        else:
            lines.append(rng.choice(local))
    return lines


def unbound_server_lines(host: str, port: int, workdir: Path) -> list[str]:
    """Unbound's server clause for a bench: one thread, in the foreground, no chroot, no DNSSEC."""
    return [
        "server:",
        f"  interface: {host}",
        f"  port: {port}",
        "  num-threads: 1",
        "  do-daemonize: no",
        '  chroot: ""',
        '  username: ""',
        f'  directory: "{workdir}"',
        '  pidfile: ""',
        '  logfile: ""',
        "  use-syslog: no",
        "  verbosity: 0",
        "  do-ip6: no",
        "  access-control: 127.0.0.0/8 allow",
        '  module-config: "iterator"',
        "  so-reuseport: no",
    ]


def unbound_config(host: str, port: int, workdir: Path, upstream: tuple[str, int] | None = None) -> str:
    lines = [*unbound_server_lines(host, port, workdir), f'  local-zone: "{ZONE}." static']
    lines += [f'  local-data: "{rr}"' for rr in zone_records()]
    if upstream is not None:  # the simulated uplink: an authoritative-looking local zone
        lines += [
            f'  local-zone: "{OUTSIDE_ZONE}." redirect',
            f'  local-data: "{OUTSIDE_ZONE}. 300 IN A 192.0.2.80"',
        ]
    return "\n".join(lines) + "\n"


def island_config(host: str, port: int, upstream: tuple[str, int]) -> dict[str, Any]:
    data = "".join(f"{name} 30 IN {rtype} {value}\n" for name, rtype, value in LOCAL_DATA)
    soa = f"@ 3600 IN SOA ns.{ZONE}. hostmaster.{ZONE}. 1 3600 600 86400 30\n"
    return {
        "listen": {"host": host, "port": port},
        "local_zones": [{"name": ZONE, "type": "static", "data": soa + data}],
        "upstreams": [{"host": upstream[0], "port": upstream[1]}],
        "allow": ["127.0.0.0/8"],
    }


def wait_answering(host: str, port: int, seconds: float = 15) -> None:
    import dns.message
    import dns.query

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            dns.query.udp(dns.message.make_query(ZONE, "A"), host, port=port, timeout=0.3)
            return
        except Exception:
            time.sleep(0.1)
    raise RuntimeError(f"nothing answers on {host}:{port}")


class Server:
    def __init__(self, argv: list[str], core: int, log: Path) -> None:
        self.process = subprocess.Popen(
            ["taskset", "-c", str(core), *argv], stdout=subprocess.DEVNULL, stderr=open(log, "wb")
        )

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def dnsperf(
    host: str,
    port: int,
    queries: Path,
    seconds: float,
    core: int,
    *,
    edns: bool,
    rate: int | None = None,
    verbose: bool = False,
) -> str:
    argv = [
        "taskset",
        "-c",
        str(core),
        "dnsperf",
        "-s",
        host,
        "-p",
        str(port),
        "-d",
        str(queries),
        "-l",
        str(seconds),
        "-c",
        "4",
        "-q",
        "200",
        "-t",
        "3",
    ]
    if edns:
        argv.append("-e")
    if rate:
        argv += ["-Q", str(rate)]
    if verbose:
        argv.append("-v")
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"dnsperf failed: {done.stderr}")
    return done.stdout


# The run --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=3, help="length of each dnsperf run")
    parser.add_argument("--rounds", type=int, default=5, help="runs per server and mode, taken in turn")
    parser.add_argument("--net", default=os.environ.get("BENCH_NET", "127.77"), help="loopback /16 to use")
    parser.add_argument("--port", type=int, default=5300)
    parser.add_argument(
        "--latency-rate", type=int, default=2000, help="queries per second in the latency runs"
    )
    args = parser.parse_args(argv)
    ensure_tools()
    cores = os.cpu_count() or 1
    server_core, client_core = 0, (1 if cores > 1 else 0)
    island_host, unbound_host, uplink_host, hole_host, island_host_2 = (
        f"{args.net}.0.{i}" for i in range(1, 6)
    )
    port = args.port
    root = Path(__file__).resolve().parents[2]
    with tempfile.TemporaryDirectory(prefix="bench-dns-") as tmp:
        work = Path(tmp)
        (work / "local.txt").write_text("\n".join(local_queries()) + "\n")
        (work / "mixed.txt").write_text("\n".join(mixed_queries(random.Random(7))) + "\n")
        (work / "unbound.conf").write_text(unbound_config(unbound_host, port, work))
        (work / "uplink.conf").write_text(
            unbound_config(uplink_host, port, work, upstream=(uplink_host, port))
        )
        # The black hole: a bound socket nobody reads, so packets to it vanish without an ICMP error.
        hole = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        hole.bind((hole_host, port))
        servers: list[Server] = []
        python = sys.executable

        def island(upstream: tuple[str, int], name: str, host: str = island_host) -> Server:
            path = work / f"{name}.json"
            path.write_text(json.dumps(island_config(host, port, upstream)))
            server = Server(
                [python, "-m", "services.resolver", "--config", str(path)], server_core, work / f"{name}.log"
            )
            servers.append(server)
            wait_answering(host, port)
            return server

        try:
            unbound = Server(
                ["unbound", "-d", "-c", str(work / "unbound.conf")], server_core, work / "unbound.log"
            )
            uplink = Server(
                ["unbound", "-d", "-c", str(work / "uplink.conf")], client_core, work / "uplink.log"
            )
            servers += [unbound, uplink]
            wait_answering(unbound_host, port)
            wait_answering(uplink_host, port)
            os.chdir(root)

            print(
                f"dnsperf {args.seconds:g} s per run, {args.rounds} rounds taken in turn (the machine is shared: "
                f"medians); servers on core {server_core}, dnsperf on core {client_core}"
            )
            island((uplink_host, port), "island")
            runs: dict[tuple[str, bool], list[float]] = {}
            ratios: list[float] = []
            for round_ in range(args.rounds):
                for edns in (False, True):
                    pair = {}
                    order = [("island", island_host), ("unbound", unbound_host)]
                    for name, host in order if round_ % 2 == 0 else order[::-1]:  # neither always goes first
                        result = parse_summary(
                            dnsperf(host, port, work / "local.txt", args.seconds, client_core, edns=edns)
                        )
                        runs.setdefault((name, edns), []).append(result.qps)
                        pair[name] = result.qps
                        print(
                            f"  round {round_ + 1}  {name:<8} {'EDNS' if edns else 'no EDNS':<8} "
                            f"{result.qps:>8.0f} qps  lost {result.lost}/{result.sent}",
                            flush=True,
                        )
                    ratios.append(pair["island"] / pair["unbound"])
            for edns in (False, True):
                i, u = statistics.median(runs[("island", edns)]), statistics.median(runs[("unbound", edns)])
                print(
                    f"  median {'with' if edns else 'without'} EDNS: island {i:.0f} qps, unbound {u:.0f} qps"
                )
            totals = {name: runs[(name, False)] + runs[(name, True)] for name in ("island", "unbound")}
            print(
                f"  ratio = median of the {len(ratios)} back-to-back pairs' ratios (robust to the shared machine's "
                f"load changing between pairs): {', '.join(f'{r:.2f}' for r in ratios)}"
            )
            servers.pop().stop()

            print(
                f"island local-name latency at {args.latency_rate} qps, one query in ten for an outside name; "
                "two islands, one with its uplink black-holed, measured in turn:"
            )
            latencies: dict[str, list[float]] = {"up": [], "black-holed": []}
            island((uplink_host, port), "island-up")
            hosts = {"up": island_host, "black-holed": island_host_2}
            island((hole_host, port), "island-black-holed", host=island_host_2)
            for round_ in range(args.rounds):
                for state, host in list(hosts.items())[:: 1 if round_ % 2 == 0 else -1]:
                    out = dnsperf(
                        host,
                        port,
                        work / "mixed.txt",
                        args.seconds,
                        client_core,
                        edns=True,
                        rate=args.latency_rate,
                        verbose=True,
                    )
                    latencies[state] += parse_latencies(out, ZONE)
            p99 = {}
            for state, local in latencies.items():
                p99[state] = percentile(local, 99)
                print(
                    f"  uplink {state:<12} local p50 {percentile(local, 50) * 1000:.2f} ms  "
                    f"p99 {p99[state] * 1000:.2f} ms  ({len(local)} local answers)"
                )
            print(f"dns local-name p99 black-holed/up: {p99['black-holed'] / p99['up']:.2f} (goal <= 1.2)")
        finally:
            for server in servers:
                server.stop()
            hole.close()
    print(
        summary_line(
            statistics.median(totals["island"]),
            statistics.median(totals["unbound"]),
            statistics.median(ratios),
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
