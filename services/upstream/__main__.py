"""python -m services.upstream --config FILE: run the simulated internet."""

from __future__ import annotations

import argparse
import sys

import uvicorn

from services.ports import first_taken_port

from .config import ConfigError, load_config
from .server import create_upstream_app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.upstream", description="The simulated internet."
    )
    parser.add_argument("--config", required=True, help="upstream configuration (YAML or JSON)")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"simulated upstream: {exc}", file=sys.stderr)
        return 2
    taken = first_taken_port(
        [
            (config.dns.host, config.dns.port, "udp"),
            (config.dns.host, config.dns.port, "tcp"),
            (config.http.host, config.http.port, "tcp"),
        ]
    )
    if taken:
        print(f"simulated upstream: {taken} is already in use", file=sys.stderr)
        return 3
    uvicorn.run(
        create_upstream_app(config),
        host=config.http.host,
        port=config.http.port,
        log_level="warning",
        access_log=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
