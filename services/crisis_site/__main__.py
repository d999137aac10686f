"""Run the crisis site: python -m services.crisis_site --host H --port P [--content FILE]."""

from __future__ import annotations

import argparse
import sys

from services.crisis_site.app import create_app
from services.crisis_site.content import ContentError
from services.ports import is_taken


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.crisis_site", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--content", default=None, help="YAML content file (default: bundled demo)")
    args = parser.parse_args(argv)

    try:
        app = create_app(args.content)
    except ContentError as exc:
        print(exc, file=sys.stderr)
        return 2
    if is_taken(args.host, args.port):
        print(f"crisis site: port {args.port} on {args.host} is already in use", file=sys.stderr)
        return 3

    import uvicorn  # imported late: argument and content errors should not pay for it

    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
