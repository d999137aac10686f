"""make bench-region: a region of 1 hub + 5 islands on this machine, in one run.

Real nats-server processes and one replicator process per place (`python -m services.region
replicator`), on loopback addresses 127.<ISLAND_TEST_NET_BASE or 59>.250.x. Each island reaches the
hub through a relay that can cut its link. Prints

    region registrations/s: island=N nats=M ratio=R
        registrations accepted at island 1 until all are visible in a lookup at island 2, against
        raw JetStream on the same servers: the same events published into a stream at island 1
        and consumed at the hub over the leaf-node link (the engine's floor for one hop)
    region lag ms: p50=N p99=M (goal p99 <= 500)
        one registration at a time at island 1 until a lookup at island 2 finds it
    region converge s: N (goal <= 10)
        island 5 cut off for --cut-seconds (60) while 1,000 people register on each side; from
        the link's return until islands 1 and 5 hold every record

These machines are shared and noisy: the ratio is what counts, never a bare number.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import nats  # noqa: E402
from nats.js.api import StreamConfig  # noqa: E402

from services.crisis_site.registry import Registry  # noqa: E402
from services.region import events, local  # noqa: E402
from services.region.plan import to_dict  # noqa: E402

ISLANDS = ["i1", "i2", "i3", "i4", "i5"]


def wait_until(check: Callable[[], object], timeout: float, every: float = 0.002) -> float:
    """Seconds until check() holds; raises if it does not within timeout."""
    start = time.perf_counter()
    while not check():
        if time.perf_counter() - start > timeout:
            raise TimeoutError("not converged in time")
        time.sleep(every)
    return time.perf_counter() - start


def start_replicators(
    region_file: Path, folder: Path, running: local.LocalRegion
) -> list[subprocess.Popen[bytes]]:
    processes = []
    for place in ["hub", *ISLANDS]:
        registry = (
            running.hub_place().registry_path if place == "hub" else running.island_place(place).registry_path
        )
        processes.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "services.region",
                    "replicator",
                    str(region_file),
                    str(folder),
                    "--place",
                    place,
                    "--registry",
                    registry,
                    "--state-file",
                    str(folder / f"{place}.state.json"),
                ],
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
            )
        )
    return processes


def throughput(a: Registry, b: Registry, n: int, tag: str) -> float:
    before = b.count()
    start = time.perf_counter()
    for i in range(n):
        a.register(f"Bench {tag} {i}", f"0709{i:06d}", ["safe"])
    wait_until(lambda: b.count() >= before + n, timeout=300, every=0.01)
    return n / (time.perf_counter() - start)


async def raw_jetstream(running: local.LocalRegion, n: int) -> float:
    """The same number of events, published at island 1 into a stream of its own and consumed at
    the hub through island 1's domain (one hop over the leaf-node link)."""
    node = running.region.hub[0]
    at_island = await nats.connect(**running.island_client("i1"))
    at_hub = await nats.connect(
        f"nats://{node.host}:{node.client_port}", user="hub", password=running.creds.hub_password()
    )
    try:
        js = at_island.jetstream()
        await js.add_stream(StreamConfig(name="BENCH", subjects=["bench.>"]))
        body = sample_event()  # the size of a real note event
        sub = await at_hub.jetstream(domain="i1").pull_subscribe("bench.>", durable="bench", stream="BENCH")
        start = time.perf_counter()

        async def consume() -> None:
            got = 0
            while got < n:
                try:
                    batch = await sub.fetch(256, timeout=2)
                except nats.errors.TimeoutError:
                    continue
                got += len(batch)
                await asyncio.gather(*(m.ack() for m in batch))  # as the replicator acknowledges

        consumer = asyncio.create_task(consume())
        for i in range(n):
            await js.publish("bench.events", body, headers={"Nats-Msg-Id": f"bench-{i}"})
        await consumer
        return n / (time.perf_counter() - start)
    finally:
        await at_island.close()
        await at_hub.close()


def sample_event() -> bytes:
    from services.crisis_site.registry import PortableRecord, PortableUpdate

    record = PortableRecord("0" * 64, "Bench Namn Efternamn", "1" * 64, time.time(), time.time() + 3600, [])
    return events.encode(events.note("i1", record, PortableUpdate(time.time(), ["safe"], "")))


def lag_ms(a: Registry, b: Registry, samples: int) -> list[float]:
    lags = []
    for i in range(samples):
        name, phone = f"Lag Prov {i}", f"0708{i:06d}"
        a.register(name, phone, ["safe"])
        lags.append(wait_until(functools.partial(b.lookup, name, phone), timeout=30) * 1000)
        time.sleep(0.02)
    return lags


def converge(
    running: local.LocalRegion, a: Registry, e: Registry, cut_seconds: float, per_side: int
) -> float:
    running.links["i5"].cut()
    start = time.perf_counter()
    base_a = a.count()
    for i in range(per_side):
        a.register(f"Kvar A {i}", f"0707{i:06d}", ["safe"])
        e.register(f"Avskuren E {i}", f"0706{i:06d}", ["at_point"])
    time.sleep(max(0.0, cut_seconds - (time.perf_counter() - start)))
    assert a.count() == base_a + per_side, "island 5's records reached island 1 during the cut"
    running.links["i5"].restore()
    target = base_a + 2 * per_side
    return wait_until(lambda: a.count() == target and e.count() == target, timeout=600, every=0.05)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--registrations", type=int, default=500)
    parser.add_argument("--lag-samples", type=int, default=200)
    parser.add_argument("--cut-seconds", type=float, default=60.0)
    parser.add_argument("--per-side", type=int, default=1000)
    args = parser.parse_args()
    net = f"127.{os.environ.get('ISLAND_TEST_NET_BASE', '59')}.250"
    with tempfile.TemporaryDirectory(prefix="bench-region-") as tmp:
        folder = Path(tmp)
        region = local.plan_local(ISLANDS, net, retention=7 * 86400)
        region_file = folder / "region.yaml"
        region_file.write_text(yaml.safe_dump(to_dict(region)))
        running = local.start(region, folder, relayed=True)
        processes = start_replicators(region_file, folder, running)
        try:
            a = Registry(running.island_place("i1").registry_path)
            b = Registry(running.island_place("i2").registry_path)
            e = Registry(running.island_place("i5").registry_path)
            a.register("Uppvärmning", "0700000000", ["safe"])
            wait_until(lambda: b.count() == 1 and e.count() == 1, timeout=60, every=0.05)
            island_rate = throughput(a, b, args.registrations, "t")
            nats_rate = asyncio.run(raw_jetstream(running, args.registrations))
            print(
                f"region registrations/s: island={island_rate:.0f} nats={nats_rate:.0f} "
                f"ratio={island_rate / nats_rate:.3f}"
            )
            lags = sorted(lag_ms(a, b, args.lag_samples))
            p99 = lags[min(len(lags) - 1, int(len(lags) * 0.99))]
            print(f"region lag ms: p50={statistics.median(lags):.0f} p99={p99:.0f} (goal p99 <= 500)")
            seconds = converge(running, a, e, args.cut_seconds, args.per_side)
            print(f"region converge s: {seconds:.1f} (goal <= 10)")
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            running.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
