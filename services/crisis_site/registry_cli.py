"""Move safe-and-well records between islands as JSON lines or PFIF 1.4 XML.

    python -m services.crisis_site.registry_cli export --db site.sqlite3 > records.jsonl
    python -m services.crisis_site.registry_cli export --db site.sqlite3 --format pfif \\
        --domain odsbyn.odrift.se > records.xml                 # to another Ödrift island
    python -m services.crisis_site.registry_cli export --db site.sqlite3 --format pfif \\
        --domain odsbyn.odrift.se --for-person-finder > pf.xml  # to Person Finder: no hashes
    python -m services.crisis_site.registry_cli import --db other.sqlite3 < records.xml

Import finds the format by itself (XML starts with '<'); --format says it outright. A bad
record refuses the whole import and nothing is stored. Importing twice changes nothing.

Both stream, in constant memory whatever the number of records: export writes each record as
it is read; import copies its input to a temporary file (on disk past 8 MiB), checks it all,
then stores it in batches of short transactions, so the site's registrations go on meanwhile.
"""

from __future__ import annotations

import argparse
import codecs
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from services.crisis_site.pfif import came_from_person_finder, export_pfif, import_pfif
from services.crisis_site.registry import PortableRecord, Registry


def _looks_like_xml(data: bytes) -> bool:
    return data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"<"


def _export(registry: Registry, args: argparse.Namespace) -> int:
    if args.format == "pfif":
        if not args.domain:
            print(
                "export --format pfif needs --domain, this island's domain name (for example odsbyn.odrift.se): "
                "it begins the id of every record made here",
                file=sys.stderr,
            )
            return 2
        sent = 0

        def counted(records: Iterable[PortableRecord]) -> Iterator[PortableRecord]:
            nonlocal sent
            for r in records:
                sent += not (args.for_person_finder and came_from_person_finder(r))
                yield r

        try:
            chunks = export_pfif(
                counted(registry.export_records()), args.domain, args.source_name, args.for_person_finder
            )
        except ValueError as exc:
            print(f"export refused: {exc}", file=sys.stderr)
            return 2
        for chunk in chunks:
            sys.stdout.buffer.write(chunk)
        print(
            f"exported {sent} records as PFIF 1.4"
            + (" for Person Finder (no lookup keys)" if args.for_person_finder else ""),
            file=sys.stderr,
        )
        return 0
    count = 0
    for line in registry.export_lines():
        sys.stdout.write(line + "\n")
        count += 1
    print(f"exported {count} records", file=sys.stderr)
    return 0


class _Lines:
    """A binary file's lines as text, from its start each time they are iterated (read twice:
    checked, then stored)."""

    def __init__(self, file: BinaryIO) -> None:
        self._file = file

    def __iter__(self) -> Iterator[str]:
        self._file.seek(0)
        decode = codecs.getincrementaldecoder("utf-8")()
        for raw in self._file:
            yield decode.decode(raw).rstrip("\r\n")


def _import(registry: Registry, args: argparse.Namespace) -> int:
    with tempfile.SpooledTemporaryFile(max_size=8 << 20) as spool:
        shutil.copyfileobj(sys.stdin.buffer, spool)
        spool.seek(0)
        fmt = args.format or ("pfif" if _looks_like_xml(spool.read(4096)) else "jsonl")
        spool.seek(0)
        try:
            if fmt == "pfif":
                added, report = import_pfif(registry, spool)  # type: ignore[arg-type]
            else:
                added = registry.import_lines(_Lines(spool))  # type: ignore[arg-type]
        except UnicodeDecodeError as exc:
            print(f"import refused, nothing stored: not UTF-8 text (byte {exc.start})", file=sys.stderr)
            return 2
        except ValueError as exc:  # PfifError too
            print(f"import refused, nothing stored: {exc}", file=sys.stderr)
            return 2
    print(f"imported {added} new messages", file=sys.stderr)
    if fmt == "pfif":
        if report.shortened:
            print(f"{report.shortened} note texts were cut to the registry's 200 characters", file=sys.stderr)
        if report.skipped:
            print(f"skipped {len(report.skipped)} records the registry cannot hold:", file=sys.stderr)
            for line in report.skipped:
                print(f"  {line}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m services.crisis_site.registry_cli",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("action", choices=("export", "import"))
    p.add_argument("--db", required=True, help="the crisis site's SQLite file")
    p.add_argument(
        "--format",
        choices=("jsonl", "pfif"),
        default=None,
        help="jsonl or pfif (PFIF 1.4 XML); export default jsonl, import finds out by itself",
    )
    p.add_argument(
        "--domain", default=None, help="PFIF export: this island's domain name, e.g. odsbyn.odrift.se"
    )
    p.add_argument(
        "--source-name", default="Ödrift – Jag är OK", help="PFIF export: the source_name of records"
    )
    p.add_argument(
        "--for-person-finder",
        action="store_true",
        help="PFIF export: leave out the hashed lookup key and code, and records that came from "
        "Person Finder",
    )
    args = p.parse_args(argv)
    registry = Registry(args.db, expire_every=None)  # the site's own sweeper deletes expired records
    try:
        return _export(registry, args) if args.action == "export" else _import(registry, args)
    finally:
        registry.close()


if __name__ == "__main__":
    sys.exit(main())
