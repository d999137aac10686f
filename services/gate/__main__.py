"""python -m services.gate --resolver-metrics URL: follow the resolver's island mode in the firewall."""

from __future__ import annotations

import argparse
import asyncio
import logging
import shlex
import signal
import sys
from pathlib import Path

from .gate import CHAIN, INTERVAL, NAT_CHAIN, TABLE, Gate, GateError, keep_following


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m services.gate", description=__doc__)
    p.add_argument("--resolver-metrics", required=True, help="the island resolver's /metrics URL")
    p.add_argument("--nft", default="nft", help="the nft command (default: nft)")
    p.add_argument("--conntrack", default="conntrack", help="the conntrack command (default: conntrack)")
    p.add_argument(
        "--portal",
        help="ADDRESS:PORT the phones' port-80 connections to the outside go to in island mode "
        f"(the firewall's chain {NAT_CHAIN}); none: refused like the rest",
    )
    p.add_argument("--table", default=TABLE)
    p.add_argument("--chain", default=CHAIN)
    p.add_argument("--status-file", type=Path, help="where the gate writes whether it is closed")
    p.add_argument("--interval", type=float, default=INTERVAL)
    return p


async def run(args: argparse.Namespace) -> None:
    gate = Gate(
        tuple(shlex.split(args.nft)),
        args.table,
        args.chain,
        args.status_file,
        portal=args.portal,
        conntrack=tuple(shlex.split(args.conntrack)),
    )
    task = asyncio.current_task()
    assert task is not None
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, task.cancel)
    try:
        await keep_following(gate, args.resolver_metrics, args.interval)
    except asyncio.CancelledError:
        pass


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s gate %(message)s")
    try:
        asyncio.run(run(parser().parse_args(argv)))
    except GateError as problem:
        raise SystemExit(f"gate: {problem}") from None  # said on stderr, exit status 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
