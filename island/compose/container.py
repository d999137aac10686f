"""Inside the island's Docker image: run one part of the stack, check its health, steer the uplink.

    python -m island.compose.container run SERVICE      upstream | resolver | site | router | client
    python -m island.compose.container health SERVICE   exit 0 when healthy (the compose healthchecks)
    python -m island.compose.container uplink [MODE]    in the router: print the mode, or set it

The services are the same :func:`island.service_specs.island_services` as on every backend,
at the addresses of :mod:`island.topology.compose`; only where they run differs. A healthcheck
runs every few seconds in every container, so the checks use the standard library alone
(:mod:`island.compose.health`) and the services are imported only to run one.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..topology.compose import Layout
from . import health as health_checks
from .router import TABLE, gate_argv, mode_from_listing, ruleset, uplink_script
from .settings import ComposeSettings

if TYPE_CHECKING:
    from ..service_specs import ServiceSpec

SERVICES = ("upstream", "resolver", "site", "router", "client")
# The volume the upstream publishes the simulated public CA's root in; the site and the phone trust it.
PUBLIC_CA_FOLDER = "/var/lib/island/public-ca"
PUBLIC_CA_FILE = f"{PUBLIC_CA_FOLDER}/public-ca.pem"
# The site's key and certificate chain, and its TLS status (read by `island status` on the host).
SITE_TLS_FOLDER = "/var/lib/island/tls"
# The island's credential for the municipality's certificate service: a volume the upstream (the
# municipality, installing the island) writes and only the site reads.
CREDENTIAL_FOLDER = "/var/lib/island/credential"


def _in_the_stack(config: dict[str, Any] | None) -> dict[str, Any] | None:
    """A service's configuration with the files that other containers share at their places in the stack."""
    if config is None:
        return None
    if "acme" in config:
        islands = [
            {**island, "credential_file": f"{CREDENTIAL_FOLDER}/{Path(island['credential_file']).name}"}
            for island in config["acme"].get("islands", [])
        ]
        config = {
            **config,
            "acme": {**config["acme"], "public_ca_folder": PUBLIC_CA_FOLDER, "islands": islands},
        }
    if "tls" in config:
        tls = {**config["tls"], "folder": SITE_TLS_FOLDER}
        if "credential_file" in tls:
            tls["credential_file"] = f"{CREDENTIAL_FOLDER}/{Path(tls['credential_file']).name}"
        if "roots" in tls:
            tls["roots"] = PUBLIC_CA_FILE
        config = {**config, "tls": tls}
    return config


def _specs(layout: Layout, crisis_name: str) -> dict[str, ServiceSpec]:
    from ..service_specs import island_services  # httpx and the DNS stack: only where a service runs

    specs = island_services(layout.inside(crisis_name))
    return {spec.name: replace(spec, config=_in_the_stack(spec.config)) for spec in specs}


def _nft(script: str) -> None:
    done = subprocess.run(["nft", "-f", "-"], input=script, text=True, capture_output=True)
    if done.returncode != 0:
        raise SystemExit(f"router: nft refused the rules: {done.stderr.strip()}")


def _wait_for_signal() -> int:
    """The router and the client only hold their network set-up; they wait to be stopped."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    while True:
        signal.pause()


def run(service: str, layout: Layout, crisis_name: str) -> int:
    if service == "router":
        _nft(ruleset(layout))
        print(
            f"router: forwarding island {layout.island_subnet} <-> upstream {layout.upstream_subnet}",
            flush=True,
        )
        os.execv(sys.executable, [sys.executable, *gate_argv(layout)])  # the gate until stopped
    if service == "client":
        # As a phone gets it from DHCP: the trygghetspunkt's router is the way to everything.
        subprocess.run(["ip", "route", "replace", "default", "via", layout.router_client], check=True)
        print(f"client: default route via {layout.router_client}", flush=True)
        return _wait_for_signal()
    spec = _specs(layout, crisis_name)[service]
    config_path = None
    if spec.config is not None:
        fd, config_path = tempfile.mkstemp(prefix=f"{service}-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(spec.config, out, indent=2)
    argv = spec.argv(config_path)
    os.execv(argv[0], argv)


def health(service: str, layout: Layout, crisis_name: str) -> int:
    def upstream() -> None:
        health_checks.http_ok(f"http://{layout.upstream}/healthz")
        health_checks.dns_ok("www.kommun.example", layout.upstream, 53)

    checks: dict[str, Callable[[], None]] = {
        "upstream": upstream,
        "resolver": lambda: health_checks.dns_ok(crisis_name, layout.resolver, 53),
        "site": lambda: health_checks.http_ok(f"http://{layout.site}/healthz"),
    }
    if service == "router":
        done = subprocess.run(["nft", "list", "table", "ip", TABLE], capture_output=True, text=True)
        return 0 if done.returncode == 0 else 1
    if service == "client":
        done = subprocess.run(["ip", "route", "show", "default"], capture_output=True, text=True)
        return 0 if f"via {layout.router_client}" in done.stdout else 1
    try:
        checks[service]()
    except Exception as exc:  # a healthcheck reports, it does not raise
        print(f"{service} unhealthy: {exc or type(exc).__name__}", file=sys.stderr)
        return 1
    return 0


def uplink(mode: str | None, layout: Layout) -> int:
    if mode is not None:
        try:
            _nft(uplink_script(mode, layout))
        except ValueError as exc:
            print(f"router: {exc}", file=sys.stderr)
            return 2
    listing = subprocess.run(
        ["nft", "list", "chain", "ip", TABLE, "uplink"], capture_output=True, text=True, check=True
    )
    print(mode_from_listing(listing.stdout))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m island.compose.container",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("run", "health"):
        sub.add_parser(name).add_argument("service", choices=SERVICES)
    sub.add_parser("uplink").add_argument("mode", nargs="?")
    args = parser.parse_args(argv)
    settings = ComposeSettings.from_env()
    layout = settings.layout
    if args.command == "run":
        return run(args.service, layout, settings.crisis_name)
    if args.command == "health":
        return health(args.service, layout, settings.crisis_name)
    return uplink(args.mode, layout)


if __name__ == "__main__":
    sys.exit(main())
