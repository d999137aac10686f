"""Is the prober the bottleneck, and does it tell the truth about latency?

Starts a netns island (root), then from the trygghetspunkt-a namespace:

1. rate: runs the real scenario engine with three probes (crisis DNS, crisis page by name,
   outside DNS) at a load of 50 operations per second each, and prints the rate reached;
2. accuracy: times the same DNS question and the same page with the prober and with an
   independent outside client (dnspython and http.client in their own process in the same
   namespace), in alternating rounds, and prints both medians and their difference.

    .venv/bin/python bench/prober.py [--seconds 5] [--rounds 4] [--count 100]

Exit 0 when the rate is >= 50/s per probe and both median differences are within 1 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from island.backends.netns import NetnsBackend  # noqa: E402
from island.scenario.engine import run_scenario  # noqa: E402
from island.scenario.loader import parse_scenario  # noqa: E402
from island.scenario.model import Scenario  # noqa: E402
from island.state import StateDir  # noqa: E402

RATE = 50

OUTSIDE = r"""
import json, sys, time, statistics, http.client
import dns.message, dns.query
host, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
dns_ms, http_ms = [], []
for _ in range(count):
    q = dns.message.make_query(name, "A")
    t = time.perf_counter(); dns.query.udp(q, host, port=53, timeout=3); dns_ms.append((time.perf_counter() - t) * 1000)
    t = time.perf_counter()
    a = dns.query.udp(dns.message.make_query(name, "A"), host, port=53, timeout=3)
    c = http.client.HTTPConnection(a.answer[0][0].address, 80, timeout=3)
    c.request("GET", "/", headers={"Host": name}); r = c.getresponse(); r.read(); c.close()
    http_ms.append((time.perf_counter() - t) * 1000)
print(json.dumps({"dns": statistics.median(dns_ms), "http": statistics.median(http_ms)}))
"""


def _scenario(seconds: float, rate: float) -> Scenario:
    text = f"""title: prober rate
load: {{rate: {rate}}}
probes:
  - name: crisis-dns
    dns: {{name: "{{crisis_name}}"}}
  - name: crisis-page
    http: {{url: "http://{{crisis_name}}/", contains: Krisinformation}}
  - name: outside-dns
    dns: {{name: www.bank.example}}
phases:
  - name: steady
    duration: {seconds}
"""
    return parse_scenario(text, Path("bench.yaml"))


async def _prober_medians(backend: NetnsBackend, count: int) -> dict[str, float]:
    page = _scenario(1, 1).probes
    dns_probe, http_probe = page[0].operation(), page[1].operation()
    dns_ms, http_ms = [], []
    for _ in range(count):
        dns_ms.append((await backend.probe(dns_probe)).latency_ms)
        http_ms.append((await backend.probe(http_probe)).latency_ms)
    return {"dns": statistics.median(dns_ms), "http": statistics.median(http_ms)}


def _outside_medians(backend: NetnsBackend, count: int) -> dict[str, float]:
    t = backend.addresses
    done = subprocess.run(
        [
            "ip",
            "netns",
            "exec",
            backend.ns("tpa"),
            sys.executable,
            "-c",
            OUTSIDE,
            t.resolver_address,
            t.crisis_name,
            str(count),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    medians: dict[str, float] = json.loads(done.stdout)
    return medians


async def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--count", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="odrift-bench-") as folder:
        backend = NetnsBackend(StateDir(Path(folder) / "state"))
        await backend.start(lambda line: None)
        try:
            journal = await run_scenario(_scenario(args.seconds, RATE), Path("bench.yaml"), backend)
            rates = {}
            for probe in ("crisis-dns", "crisis-page", "outside-dns"):
                ops = [o for o in journal.operations if o.probe == probe]
                rates[probe] = len(ops) / args.seconds
                ok = sum(o.status == "ok" for o in ops)
                print(f"rate  {probe:<12} {rates[probe]:6.1f} ops/s (asked {RATE}), {ok}/{len(ops)} ok")
            ours, theirs = [], []
            for _ in range(args.rounds):  # alternate, so machine noise falls on both alike
                ours.append(await _prober_medians(backend, args.count))
                theirs.append(await asyncio.to_thread(_outside_medians, backend, args.count))
            worst = 0.0
            for kind in ("dns", "http"):
                a = statistics.median(r[kind] for r in ours)
                b = statistics.median(r[kind] for r in theirs)
                worst = max(worst, abs(a - b))
                print(
                    f"latency {kind:<4} prober median {a:6.2f} ms, outside client {b:6.2f} ms, "
                    f"difference {a - b:+.2f} ms, ratio {a / b:.2f}"
                )
        finally:
            await backend.stop(lambda line: None)
    ok = min(rates.values()) >= RATE * 0.98 and worst <= 1.0
    print(
        "PASS" if ok else "FAIL",
        f"(slowest probe {min(rates.values()):.1f} ops/s, worst median difference {worst:.2f} ms)",
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
