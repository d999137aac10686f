"""python -m services.upstream --config FILE: run the simulated internet."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import uvicorn

from services.ports import first_taken_port
from services.tls.listener import ServerWithTLS, TLSPort

from . import pebble
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
            *([(config.https.host, config.https.port, "tcp")] if config.https else []),
            *(
                [
                    (config.http.host, pebble.ACME_PORT, "tcp"),
                    (config.http.host, pebble.MANAGEMENT_PORT, "tcp"),
                ]
                if config.acme and config.acme.pebble_dns
                else []
            ),
        ]
    )
    if taken:
        print(f"simulated upstream: {taken} is already in use", file=sys.stderr)
        return 3
    app = create_upstream_app(config)
    settings = uvicorn.Config(
        app, host=config.http.host, port=config.http.port, log_level="warning", access_log=False
    )
    if config.https is None or app.state.tls_keeper is None:
        uvicorn.Server(settings).run()
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    acme = config.acme
    assert acme is not None
    if acme.pebble_dns is None:
        ServerWithTLS(settings, TLSPort(config.https.host, config.https.port), app.state.tls_keeper).run()
        return 0
    # The public CA is a service of the simulated internet: started here, stopped with it.
    folder = Path(args.config).parent
    try:
        ca, _ = pebble.start(config.http.host, acme.pebble_dns, folder)
    except (FileNotFoundError, OSError) as exc:
        print(f"simulated upstream: {exc}", file=sys.stderr)
        return 2
    published = acme.public_ca_folder or folder
    app.state.tls_keeper.prepare = lambda: pebble.publish_root(config.http.host, acme.ca_bundle, published)
    try:
        ServerWithTLS(settings, TLSPort(config.https.host, config.https.port), app.state.tls_keeper).run()
    finally:
        ca.terminate()
        ca.wait(5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
