"""python -m services.resolver --config FILE: run the island resolver."""

from __future__ import annotations

import argparse
import asyncio
import errno
import gc
import logging
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from .config import ConfigError, ResolverConfig, load_config
from .resolver import MetricsPortError, serve


async def _run_until_signal(config: ResolverConfig) -> None:
    task = asyncio.current_task()
    assert task is not None  # a coroutine run by asyncio.run or uvloop.run is always in a task
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    try:
        await serve(config)
    except asyncio.CancelledError:
        pass


def _tune_gc() -> None:
    """Fewer, later garbage collections, each walking little: no pause the crisis name would notice.

    What the imports made is frozen: it lives as long as the process and need never be walked
    again. The cache keeps its answers where the collector never looks (bytes in untracked
    dicts, see services.resolver.cache), so a full collection walks only what serving made
    since start-up, at any cache size (under 1 ms at 100,000 names, bench/scale/resolver.py).
    Almost nothing the resolver makes is cyclic (answers are bytes and small records freed by
    reference counting; replaced upstream sockets and failed queries too, tested), so collecting
    after 50,000 surviving new objects instead of 700 costs little memory and keeps even the
    young collections rare.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.resolver", description="The island's DNS resolver."
    )
    parser.add_argument("--config", required=True, help="resolver configuration (YAML or JSON)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s resolver %(levelname)s %(message)s")
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"island resolver: {exc}", file=sys.stderr)
        return 2
    runner: Callable[[Coroutine[Any, Any, None]], None]
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    _tune_gc()
    try:
        runner(_run_until_signal(config))
    except MetricsPortError as exc:
        print(f"island resolver: {exc}", file=sys.stderr)
        return 3
    except OSError as exc:
        # uvloop wraps the bind error in an OSError of its own, without errno.
        if errno.EADDRINUSE in (exc.errno, getattr(exc.__cause__, "errno", None)):
            print(
                f"island resolver: port {config.listen.port} on {config.listen.host} is already in use; "
                "stop what uses it or choose another port",
                file=sys.stderr,
            )
            return 3
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
