"""Move safe-and-well records between islands as JSON lines.

    python -m services.crisis_site.registry_cli export --db site.sqlite3 > records.jsonl
    python -m services.crisis_site.registry_cli import --db other.sqlite3 < records.jsonl
"""

from __future__ import annotations

import argparse
import sys

from services.crisis_site.registry import Registry


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m services.crisis_site.registry_cli", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("action", choices=("export", "import"))
    p.add_argument("--db", required=True, help="the crisis site's SQLite file")
    args = p.parse_args(argv)
    registry = Registry(args.db)
    try:
        if args.action == "export":
            count = 0
            for line in registry.export_lines():
                sys.stdout.write(line + "\n")
                count += 1
            print(f"exported {count} records", file=sys.stderr)
        else:
            try:
                added = registry.import_lines(sys.stdin)
            except ValueError as exc:
                print(f"import refused, nothing stored: {exc}", file=sys.stderr)
                return 2
            print(f"imported {added} new messages", file=sys.stderr)
    finally:
        registry.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
