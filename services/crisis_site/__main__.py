"""Run the crisis site: python -m services.crisis_site --host H --port P [--db FILE] [--feed URL]."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from services.crisis_site.app import DEMO_CONTENT, SiteConfig, create_app
from services.crisis_site.content import ContentError
from services.crisis_site.tls import SiteTLSConfig
from services.ports import is_taken


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m services.crisis_site", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument(
        "--content",
        default=str(DEMO_CONTENT),
        help="YAML seed used when the database is new (default: bundled demo)",
    )
    p.add_argument(
        "--db",
        default=":memory:",
        help="SQLite database file that keeps the content (default: in memory, lost at exit)",
    )
    p.add_argument(
        "--crisis-name",
        default=None,
        help="the crisis page's name: requests for other host names get the captive portal's redirect",
    )
    p.add_argument(
        "--resolver-metrics",
        default=None,
        help="the island resolver's /metrics URL, which says whether the island is in island mode",
    )
    p.add_argument(
        "--region-state",
        default=None,
        help="at a region's hub: the hub replicator's state file, whose islands the editors' page shows",
    )
    p.add_argument(
        "--region",
        action="store_true",
        help="a place in a region: serve /api/region.json (counts, hashed message ids) for its convergence check",
    )
    p.add_argument("--feed", default=None, help="the municipality's central feed (CAP XML or JSON) to poll")
    p.add_argument("--feed-host", default=None, help="Host header for the feed, when --feed names an address")
    p.add_argument("--poll-interval", type=float, default=30.0, help="seconds between polls (default 30)")
    p.add_argument(
        "--secure-cookies", action="store_true", help="mark the editor's cookies Secure (behind TLS)"
    )
    p.add_argument(
        "--registry-days",
        type=float,
        default=30.0,
        help="days after which safe-and-well records are deleted for real (default 30)",
    )
    p.add_argument("--https-port", type=int, default=None, help="serve HTTPS here too (needs a tls object)")
    p.add_argument(
        "--head-timeout",
        type=float,
        default=10.0,
        help="seconds a request's head may take to arrive before 408 (default 10)",
    )
    p.add_argument(
        "--connections-per-address",
        type=int,
        default=32,
        help="open connections one client address may hold; past it 503 (default 32)",
    )
    p.add_argument(
        "--config",
        default=None,
        help="JSON file with defaults for the options above (db, feed, feed_host, poll_interval, "
        "content); a relative db path is taken from the file's folder",
    )
    return p


def _apply_config(args: argparse.Namespace, p: argparse.ArgumentParser) -> None:
    path = Path(args.config)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        p.error(f"cannot read --config {path}: {exc}")
    known = {
        "db",
        "feed",
        "feed_host",
        "poll_interval",
        "content",
        "crisis_name",
        "resolver_metrics",
        "tls",
        "region_state",
        "region",
    }
    unknown = set(data) - known
    if not isinstance(data, dict) or unknown:
        p.error(f"--config {path}: unknown keys {sorted(unknown)}; known: {sorted(known)}")
    for key, value in data.items():
        if key == "tls":  # the island's certificate: its folder, name, the public CA, the renewal service
            args.tls = SiteTLSConfig.from_settings(value, path.parent, args.host, args.https_port or 0)
        elif getattr(args, key) == p.get_default(key):  # the command line wins
            setattr(args, key, value)
    if args.db != ":memory:" and not Path(args.db).is_absolute():
        args.db = str(path.parent / args.db)


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    args.tls = None
    if args.config:
        _apply_config(args, p)
    if args.registry_days <= 0:
        print("crisis site: --registry-days must be more than 0 days", file=sys.stderr)
        return 2
    if args.poll_interval <= 0:
        print("crisis site: --poll-interval must be more than 0 seconds", file=sys.stderr)
        return 2
    config = SiteConfig(
        seed=Path(args.content),
        database=args.db,
        feed_url=args.feed,
        feed_host=args.feed_host,
        feed_roots=str(args.tls.roots) if args.tls is not None and args.tls.roots is not None else None,
        poll_interval=args.poll_interval,
        secure_cookies=args.secure_cookies,
        registry_ttl_days=args.registry_days,
        crisis_name=args.crisis_name,
        resolver_metrics=args.resolver_metrics,
        region_state=args.region_state,
        region=args.region,
    )
    try:
        app = create_app(config=config)
    except ContentError as exc:
        print(exc, file=sys.stderr)
        return 2
    if is_taken(args.host, args.port):
        print(f"crisis site: port {args.port} on {args.host} is already in use", file=sys.stderr)
        return 3
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per poll would drown the sync's own

    import uvicorn  # imported late: argument and content errors should not pay for it

    from services.crisis_site.serve import HttpLimits, protocol_class

    # One worker, uvloop and httptools; request heads are bounded and the cached page answered
    # inside the HTTP protocol. Without httptools, uvicorn's h11 protocol bounds the head instead.
    limits = HttpLimits(head_timeout=args.head_timeout, connections_per_address=args.connections_per_address)
    http = protocol_class(app.fast_path, limits)
    settings = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
        loop="auto",
        http=http,
        lifespan="on",
        proxy_headers=False,
        server_header=False,
        h11_max_incomplete_event_size=limits.max_head,
        timeout_keep_alive=5,
    )
    if args.tls is None or not args.https_port:
        uvicorn.Server(settings).run()
        return 0
    # HTTPS beside HTTP, same app and protocol: the same cached bytes and headers on both.
    from services.crisis_site.tls import SiteTLS
    from services.tls.listener import ServerWithTLS, TLSPort

    ServerWithTLS(
        settings,
        TLSPort(args.host, args.https_port, {args.crisis_name} if args.crisis_name else None),
        SiteTLS(args.tls),
    ).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
