"""python -m services.region: set a region up, and run an island's (or the hub's) replicator.

python -m services.region setup REGION.yaml DIR
    makes the region CA, the hub's certificates and each island's nkey (kept if they exist) in
    DIR/credentials, and writes each server's configuration to DIR/<hub-node|island>/nats.conf
python -m services.region configure REGION.yaml DIR --place NAME
    writes only this place's DIR/<place>/nats.conf from the credentials already in DIR/credentials
    (an installed island's nats-server unit runs it first: its seed is copied there, never made there)
python -m services.region replicator REGION.yaml DIR --place NAME --registry FILE [--site FILE]
    [--state-file FILE] [--metrics HOST:PORT]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from pathlib import Path

from services.region import config, credentials, metrics, plan, subjects
from services.region.replicator import Place, Replicator


def setup(region: plan.Region, folder: Path) -> list[Path]:
    creds = credentials.ensure(region, folder / "credentials")
    written = []
    for node in region.hub:
        base = folder / f"hub-{node.name}"
        written.append(
            config.write(config.hub_config(region, node, creds, base / "jetstream"), base / "nats.conf")
        )
    for island in region.islands:
        base = folder / island.name
        written.append(
            config.write(config.island_config(region, island, creds, base / "jetstream"), base / "nats.conf")
        )
    return written


def configure(region: plan.Region, folder: Path, place: str) -> Path:
    """One island's server configuration, from credentials copied to its box (never made there)."""
    creds = credentials.Credentials(folder / "credentials")
    island = region.island(place)
    try:
        server = config.island_config(region, island, creds, folder / place / "jetstream")
    except FileNotFoundError as missing:
        raise SystemExit(
            f"{missing.filename} is missing: copy this island's share of the region's credentials "
            f"(ca.pem, islands/{place}.seed, islands/{place}.client.password) from the region's "
            f"administrator into {folder / 'credentials'}"
        ) from None
    return config.write(server, folder / place / "nats.conf")


def _write_state(path: Path, state: dict[str, object]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state))
    os.replace(tmp, path)  # readers (island status) never see half a file


async def run_replicator(args: argparse.Namespace, region: plan.Region) -> None:
    creds = credentials.Credentials(args.dir / "credentials")
    if args.place == subjects.HUB:
        user, password = config.HUB_CLIENT_USER, creds.hub_password()
    else:
        user, password = config.ISLAND_CLIENT_USER, creds.island_password(args.place)
    place = Place(args.place, region, args.registry, args.site, user=user, password=password)
    replicator = Replicator(place)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    while not stop.is_set():  # the island's own server may start after us
        try:
            await replicator.connect()
            break
        except Exception as exc:  # noqa: BLE001 - any failure to reach our own server: retry
            print(f"region replicator: waiting for nats-server: {exc}", file=sys.stderr)
            try:
                await asyncio.wait_for(stop.wait(), 1.0)
            except TimeoutError:
                pass
    server = None
    if args.metrics:
        host, _, port = args.metrics.rpartition(":")
        server = await metrics.serve(lambda: replicator.state, host, int(port))

    async def write_state() -> None:
        while not stop.is_set():
            if args.state_file:
                _write_state(args.state_file, replicator.state.to_json())
            try:
                await asyncio.wait_for(stop.wait(), 1.0)
            except TimeoutError:
                pass

    writer = asyncio.create_task(write_state())
    print(f"region replicator {args.place}: running", flush=True)
    await replicator.run(stop)
    await writer
    if server is not None:
        server.close()
    await replicator.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.region", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    p_setup = commands.add_parser("setup", help="credentials and server configurations")
    p_setup.add_argument("region", type=Path)
    p_setup.add_argument("dir", type=Path)
    p_configure = commands.add_parser("configure", help="one island's server configuration, on its box")
    p_configure.add_argument("region", type=Path)
    p_configure.add_argument("dir", type=Path)
    p_configure.add_argument("--place", required=True, help="this island's name")
    p_run = commands.add_parser("replicator", help="run this place's replicator")
    p_run.add_argument("region", type=Path)
    p_run.add_argument("dir", type=Path)
    p_run.add_argument("--place", required=True, help="this island's name, or hub")
    p_run.add_argument("--registry", required=True, help="the crisis site's registry file")
    p_run.add_argument("--site", help="the crisis site's content file (crisis messages)")
    p_run.add_argument("--state-file", type=Path)
    p_run.add_argument("--metrics", help="HOST:PORT for GET /state and /metrics")
    args = parser.parse_args(argv)
    region = plan.load(args.region)
    if args.command == "setup":
        for path in setup(region, args.dir):
            print(path)
        return 0
    if args.command == "configure":
        print(configure(region, args.dir, args.place))
        return 0
    asyncio.run(run_replicator(args, region))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
