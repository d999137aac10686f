"""`island site ...`: managing the crisis site's editors from the server's shell."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from services.crisis_site.accounts import AccountError, add_editor
from services.crisis_site.store import Store

from .backends import running_backend
from .certificates import register as register_certificates
from .service_specs import SITE_DATABASE
from .state import StateDir


def _database(args: argparse.Namespace, state: StateDir) -> Path:
    if args.db:
        return Path(args.db)
    backend = running_backend(state)
    if backend is not None:  # the database the running site uses (a rehearsal's, a region hub's)
        return backend.site_database()
    # The island's site keeps its database in the island's data folder (kept by `island down`).
    return state.data_dir / SITE_DATABASE


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("New password: ")
    if getpass.getpass("Same password again: ") != first:
        raise AccountError("the two passwords differ")
    return first


async def cmd_add_editor(args: argparse.Namespace, state: StateDir) -> int:
    path = _database(args, state)
    if not args.db and not path.exists():
        print(
            f"island: no crisis site database at {path}; start the island first, or name one with --db",
            file=sys.stderr,
        )
        return 3
    try:
        password = _password(args)
        store = Store(path)
        try:
            add_editor(store, args.username, password)
        finally:
            store.close()
    except AccountError as exc:
        print(f"island: {exc}", file=sys.stderr)
        return 2
    print(f"Editor {args.username} can now log in at /redaktion on the crisis site ({path}).")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    site = sub.add_parser("site", help="manage the crisis site (editors who may publish on the island)")
    site_sub = site.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = site_sub.add_parser("add-editor", help="create an editor account, or set a new password for one")
    add.add_argument("username")
    add.add_argument("--db", help="the site's SQLite database (default: the running island's)")
    add.add_argument(
        "--password-stdin", action="store_true", help="read the password from the first line of stdin"
    )
    add.set_defaults(func=cmd_add_editor)
    register_certificates(site_sub)
