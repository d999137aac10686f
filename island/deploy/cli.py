"""``island deploy ...``, ``island backup`` and ``island restore``: the commands of a real island box."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..backup import BackupError, backup, describe, read_manifest, restore
from ..state import StateDir
from .check import Box, render_json, render_text, run_checks
from .poster import write_posters
from .render import DATA_DIR, render_site
from .site import SiteFileError, load_site

EXIT_OK, EXIT_FAILED, EXIT_ERROR = 0, 1, 2


def _err(message: str) -> int:
    print(f"island: {message}", file=sys.stderr)
    return EXIT_ERROR


def data_folder(args: argparse.Namespace, state: StateDir) -> Path:
    """--data, else an installed box's data folder, else the simulator's."""
    if getattr(args, "data", None):
        return Path(args.data)
    if Path("/etc/odrift").is_dir():
        return Path(DATA_DIR)
    return state.data_dir


async def cmd_render(args: argparse.Namespace, state: StateDir) -> int:
    try:
        site = load_site(args.site)
    except SiteFileError as exc:
        return _err(f"the site file has problems; fix each line below and render again:\n{exc}")
    written = render_site(site, Path(args.out))
    for place in site.trygghetspunkter:
        print(f"{place.name}: {Path(args.out) / place.id}/ (read SUMMARY.md there first)")
    print(f"{len(written)} files written from {args.site}.")
    return EXIT_OK


async def cmd_poster(args: argparse.Namespace, state: StateDir) -> int:
    try:
        site = load_site(args.site)
    except SiteFileError as exc:
        return _err(f"the site file has problems:\n{exc}")
    for path in write_posters(site, Path(args.out)):
        print(f"poster: {path} (A4, print at 100 %)")
    return EXIT_OK


async def cmd_check(args: argparse.Namespace, state: StateDir) -> int:
    box = Box(
        config_dir=Path(args.config_dir),
        data_dir=Path(args.data_dir),
        dhcp_config=Path(args.dhcp_config),
        units=tuple(args.unit) if args.unit else None,
        resolver_address=args.resolver,
        site_url=args.site_url,
        certificate=Path(args.cert) if args.cert else None,
    )
    findings = await run_checks(box)
    print(render_json(findings) if args.json else render_text(findings))
    return EXIT_FAILED if any(f.status == "fail" for f in findings) else EXIT_OK


async def cmd_backup(args: argparse.Namespace, state: StateDir) -> int:
    data = data_folder(args, state)
    try:
        path, entries = backup(data, Path(args.out))
    except (BackupError, OSError) as exc:
        return _err(str(exc))
    print(f"Backup of {data} -> {path}")
    for line in describe(read_manifest(path))[1:]:
        print(line)
    return EXIT_OK


async def cmd_restore(args: argparse.Namespace, state: StateDir) -> int:
    data = data_folder(args, state)
    archive = Path(args.file)
    try:
        manifest = read_manifest(archive)
    except BackupError as exc:
        return _err(str(exc))
    print("\n".join(describe(manifest)))
    if not args.yes:
        if not sys.stdin.isatty():
            return _err("restoring replaces the data in place; run it in a terminal to confirm, or add --yes")
        answer = input(f"Replace the data in {data} with this backup? Type yes: ")
        if answer.strip().lower() not in ("yes", "ja"):
            print("Nothing was changed.")
            return EXIT_FAILED
    try:
        names = restore(archive, data)
    except (BackupError, OSError) as exc:
        return _err(str(exc))
    print(f"Restored {len(names)} files into {data}. Start the crisis site again.")
    return EXIT_OK


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    deploy = sub.add_parser(
        "deploy", help="build a real island: render its configuration, posters, check a box"
    )
    deploy_sub = deploy.add_subparsers(dest="action", required=True, metavar="ACTION")

    render = deploy_sub.add_parser("render", help="write each island's configuration from a site file")
    render.add_argument("site", metavar="SITE", help="the site file (island.site.yaml)")
    render.add_argument("out", metavar="OUT", help="folder to write one sub-folder per trygghetspunkt into")
    render.set_defaults(func=cmd_render)

    poster = deploy_sub.add_parser("poster", help="an A4 poster (SVG) per trygghetspunkt with a QR code")
    poster.add_argument("site", metavar="SITE")
    poster.add_argument("--out", default="out/posters", help="folder for the posters (default out/posters)")
    poster.set_defaults(func=cmd_poster)

    check = deploy_sub.add_parser("check", help="check an installed island box; says what to do next")
    check.add_argument("--json", action="store_true")
    check.add_argument("--config-dir", default="/etc/odrift")
    check.add_argument("--data-dir", default=DATA_DIR)
    check.add_argument("--dhcp-config", default="/etc/dnsmasq.d/odrift.conf")
    check.add_argument(
        "--unit", action="append", help="systemd units that must run (repeat; default the island's)"
    )
    check.add_argument("--resolver", help="address to ask (default: the island's address from the config)")
    check.add_argument("--site-url", help="the crisis page's URL (default: http://ISLAND/)")
    check.add_argument(
        "--cert",
        help="the certificate file, key and chain (default: island.pem in site.json's tls folder, else DATA/tls/)",
    )
    check.set_defaults(func=cmd_check)

    back = sub.add_parser("backup", help="a consistent snapshot of the island's data, even while it runs")
    back.add_argument("out", metavar="OUT", help="a file, or a folder to write a dated file into")
    back.add_argument("--data", help="the data folder (default: the installed box's, else the simulator's)")
    back.set_defaults(func=cmd_backup)

    rest = sub.add_parser("restore", help="bring a backup back (asks before replacing)")
    rest.add_argument("file", metavar="FILE")
    rest.add_argument("--data", help="the data folder (default: the installed box's, else the simulator's)")
    rest.add_argument("--yes", action="store_true", help="do not ask (for scripts)")
    rest.set_defaults(func=cmd_restore)
