"""The `island` command: start the island, cut its uplink, run scenarios, read the report."""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from .backends import BACKENDS, Backend, BackendError, UnsupportedFault, open_backend, running_backend
from .certificates import (
    cut_seconds,
    expiry_warning,
    https_off_reason,
    public_ca_file,
    tls_status,
    without_https_probes,
)
from .certificates import describe as describe_tls
from .deploy.cli import register as register_deploy
from .deploy.rehearsal import prepare
from .deploy.site import SiteFile, SiteFileError, load_site
from .replication import describe_replication
from .scenario import ScenarioError, evaluate, load_scenario, render_text, run_scenario
from .scenario.analysis import Result
from .scenario.engine import Progress, check_scenario
from .scenario.journal import Event
from .scenario.junit import Skipped, render_junit
from .scenario.model import Scenario
from .scenario.report import render_json, render_markdown
from .scenario.schema import schema_text
from .scenario.timeline import render_svg
from .service_specs import resolver_upstreams
from .site_admin import register as register_site
from .state import StateDir
from .topology import Addresses

SCENARIO_DIR = Path(__file__).resolve().parent.parent / "scenarios"

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_ERROR = 0, 1, 2, 3


def say(message: str = "") -> None:
    print(message, flush=True)


def _error(message: str) -> None:
    print(f"island: {message}", file=sys.stderr, flush=True)


# Stack --------------------------------------------------------------------------------------


def _running(state: StateDir) -> Backend | None:
    backend = running_backend(state)
    if backend is not None and backend.is_running():
        return backend
    return None


def _up_already(state: StateDir) -> Backend:
    """The island that is up, for a command that acts on one."""
    backend = _running(state)
    if backend is None:
        raise BackendError("no island is up. Start one with `island up --detach` first.")
    return backend


async def _clean_leftovers(state: StateDir) -> None:
    """Stop and remove what an earlier island left behind (a crash, a killed terminal)."""
    leftover = running_backend(state)
    if leftover is not None:
        await leftover.stop(lambda _: None)
    if state.read() is not None:
        state.clear()
    _clean_other_leftovers(state)


def _clean_other_leftovers(state: StateDir) -> list[str]:
    """What crashed runs left outside the state folder (namespaces), found by each backend's own names."""
    removed = []
    for cls in BACKENDS.values():
        removed += cls.clean_leftovers(state)
    return removed


def _print_where(backend: Backend) -> None:
    t = backend.addresses
    say("The island is up.")
    if backend.browser_url:
        say(f"  Crisis page:     {backend.browser_url}   <- open this in your browser")
    else:
        say(
            f"  Crisis page:     {t.site_url} inside the island network (open it from a phone's namespace, above)"
        )
    say(f"  By name:         {backend.resident_url}  (a resident on the island, through the island resolver)")
    ca = public_ca_file(backend.state)
    if ca is not None:
        say(f"  HTTPS by name:   {backend.https_url}  (phones trust the simulated public CA: {ca})")
    else:
        say(f"  HTTPS:           off ({backend.https_off() or https_off_reason()}); HTTP as above")
    say(
        f"  Island resolver: {t.resolver_address} port {t.dns_port}   "
        f"try: dig @{t.resolver_address} -p {t.dns_port} {t.crisis_name}"
    )
    if backend.browser_url:
        say(f"  Publish:         {backend.browser_url}redaktion   (accounts: island site add-editor NAME)")
    where = backend.data_location()
    if where:
        say(f"  Data:            {where}   (kept by `island down`; `island down --purge` deletes it)")


async def _up(
    state: StateDir,
    backend_name: str,
    data_dir: Path | None = None,
    site: tuple[str, SiteFile] | None = None,
    islands: int = 1,
    hub_nodes: int = 1,
) -> Backend:
    if site is not None and islands > 1:
        raise BackendError(
            f"{site[0]}: a site file rehearses one island (its first trygghetspunkt); "
            "leave out --islands, or rehearse the region without --site"
        )
    if _running(state) is not None:
        raise BackendError(
            "an island is already up. See it with `island status`; stop it with `island down`."
        )
    await _clean_leftovers(state)
    backend = open_backend(backend_name, state, islands=islands, hub_nodes=hub_nodes)
    if data_dir is not None:
        backend.data_dir = data_dir
    if site is not None:
        # Rendered into the data folder by the same function as `island deploy render`, then run.
        backend.use_site(prepare(site[0], site[1], backend.data_dir))
    say(f"Starting the island (backend: {backend.name}) ...")
    for line in backend.site_mapping():
        say(line)
    await backend.start(say)
    return backend


def _site_file(path: str | None) -> tuple[str, SiteFile] | None:
    """The site file of --site, checked before anything starts (SiteFileError names file:line:field)."""
    return (path, load_site(path)) if path else None


async def cmd_up(args: argparse.Namespace, state: StateDir) -> int:
    backend = await _up(
        state, args.backend, site=_site_file(args.site), islands=args.islands, hub_nodes=args.hub_nodes
    )
    _print_where(backend)
    if args.detach:
        say("  Cut the uplink:  island uplink cut [--mode blackhole|reject]; heal it: island uplink restore")
        say("  Stop it:         island down")
        return EXIT_OK
    say("Press Ctrl-C to stop the island.")
    try:
        while backend.is_running():
            await asyncio.sleep(0.5)
        _error(
            "a service of the island stopped by itself; stopping the rest. Logs were in " + str(state.path)
        )
        return EXIT_ERROR
    finally:
        say("Stopping the island ...")
        await asyncio.shield(backend.stop(say))


async def cmd_down(args: argparse.Namespace, state: StateDir) -> int:
    data = state.data_dir  # read before the state folder goes
    if args.purge and not _purge_confirmed(args, data):
        return EXIT_BAD_INPUT
    backend = running_backend(state)
    if backend is None:
        removed = await asyncio.to_thread(_clean_other_leftovers, state)
        if state.read() is not None or removed:
            state.clear()
            say(
                "No island was up; removed what an earlier run left behind."
                + (f" ({', '.join(removed)})" if removed else "")
            )
        else:
            say("No island is up; nothing to stop.")
    else:
        alive = backend.is_running()
        say(f"Stopping the island (backend: {backend.name}) ...")
        await backend.stop(say)
        await asyncio.to_thread(_clean_other_leftovers, state)
        say(
            "The island is down."
            if alive
            else "The island had already stopped; cleaned up what it left behind."
        )
    if args.purge:
        shutil.rmtree(data, ignore_errors=True)
        say(f"Deleted the island's data folder {data}.")
    elif data.exists():
        say(f"Its data is kept in {data} (delete it with `island down --purge`).")
    return EXIT_OK


def _purge_confirmed(args: argparse.Namespace, data: Path) -> bool:
    """The data folder holds what cannot be made again: ask first, unless --yes says it was asked."""
    if args.yes or not data.exists():
        return True
    what = f"{data}: the crisis site's messages, its editor accounts and the safe-and-well registry"
    if not sys.stdin.isatty():
        _error(f"--purge would delete {what}. Add --yes to do so without being asked.")
        return False
    answer = input(f"Delete {what}? This cannot be undone. Type yes to delete: ")
    if answer.strip().lower() != "yes":
        say("Nothing was stopped or deleted.")
        return False
    return True


async def cmd_restart(args: argparse.Namespace, state: StateDir) -> int:
    backend = _up_already(state)
    say(f"Restarting the {args.service} ...")
    await backend.restart_service(args.service, say)
    say(f"The {args.service} is running again and answers.")
    return EXIT_OK


async def _tls_status(backend: Backend) -> dict[str, Any]:
    await backend.refresh_tls()
    return tls_status(backend.state)


async def cmd_status(args: argparse.Namespace, state: StateDir) -> int:
    backend = _running(state)
    if backend is None:
        if args.json:
            print(json.dumps({"backend": None, "up": False}))
        else:
            say("No island is up. Start one with `island up`.")
        return EXIT_FAILED
    t = backend.addresses
    mode = await backend.uplink()
    status: dict[str, Any] = {
        "backend": backend.name,
        "up": True,
        "crisis_name": t.crisis_name,
        "resolver": {"host": t.resolver_address, "port": t.dns_port},
        "site": {"url": t.site_url, "by_name": backend.resident_url, "https_url": backend.https_url},
        "tls": await _tls_status(backend),
        "uplink": "up" if mode == "up" else "cut",
        "uplink_mode": mode,
        "services": await backend.status(),
        "resolver_upstreams": await resolver_upstreams(t),
        "data_dir": backend.data_location(),
        "watchdog": backend.watchdog(),
        # Started from a site file (`island up --site`): which, and where its rendered files are.
        "site_file": {"file": backend.site.file, "rendered": backend.site.root} if backend.site else None,
        "region": await backend.replication(),
    }
    if args.json:
        print(json.dumps(status, indent=2))
        return EXIT_OK
    say(f"The island is up (backend: {backend.name}).")
    width = max([9, *(len(name) for name in status["services"])])  # a region's names are longer
    for name, service in status["services"].items():
        state_text = "running" if service["running"] else "NOT RUNNING"
        restarts = service.get("restarts", 0)
        restarted = (
            f"  restarted {restarts} time{'s' if restarts != 1 else ''}, last at {service['last_restart']}"
            if restarts
            else ""
        )
        say(f"  {name:<{width}} {state_text:<11} {service['where']}{restarted}")
    watchdog = status["watchdog"]
    if watchdog is not None:
        kept = "running" if watchdog["running"] else "NOT RUNNING (crashed services stay down)"
        say(f"  watchdog  {kept:<11} starts a crashed service again; its log: {watchdog['log']}")
    say(f"  uplink    {'up' if mode == 'up' else 'CUT (' + mode + ')'}")
    for upstream, health in (status["resolver_upstreams"] or {}).items():
        say(f"  resolver's upstream {upstream}: {health}")
    for line in describe_replication(status["region"]):
        say(line)
    say(f"  Crisis page: {t.site_url}")
    if backend.site is not None:
        say(f"  Site file:   {backend.site.file} (rendered into {backend.site.root})")
    if status["data_dir"]:
        say(f"  Data:        {status['data_dir']} (kept by `island down`)")
    say(f"  {describe_tls(status['tls'])}")
    return EXIT_OK


async def cmd_uplink(args: argparse.Namespace, state: StateDir) -> int:
    backend = _up_already(state)
    if args.action == "cut":
        await backend.cut(args.mode)
        detail = "silently dropped" if args.mode == "blackhole" else "refused at once"
        say(
            f"The uplink is cut ({args.mode}): traffic to the internet is {detail}. Heal it with `island uplink restore`."
        )
    else:
        await backend.restore()
        waited = await _until_resolver_reaches_the_internet(backend.addresses)
        if waited is None:
            say("The uplink is restored.")
        else:
            say(f"The uplink is restored; the island resolver reaches the internet again ({waited:.1f} s).")
    return EXIT_OK


RESTORE_SETTLE_SECONDS = 2.0


async def _until_resolver_reaches_the_internet(addresses: Addresses, within: float = 10.0) -> float | None:
    """Seconds until the resolver sees its upstreams up again (its heartbeat notices within about one);
    None when its state cannot be read from here (namespaces, containers) or it does not come back."""
    started = time.monotonic()
    if await resolver_upstreams(addresses) is None:
        return None
    # A heartbeat sent during the cut is still waiting for its answer: let it time out (one forward
    # budget, 1.5 s) before trusting "up", or it would mark the upstream down just after we return.
    await asyncio.sleep(RESTORE_SETTLE_SECONDS)
    while time.monotonic() - started < within:
        states = await resolver_upstreams(addresses)
        if states is None:
            return None
        if all(state == "up" for state in states.values()):
            return time.monotonic() - started
        await asyncio.sleep(0.1)
    return None


# Scenarios -----------------------------------------------------------------------------------


def _resolve_scenario(name: str) -> Path:
    path = Path(name)
    if not path.exists() and not path.suffix:
        shipped = SCENARIO_DIR / f"{name}.yaml"
        if shipped.exists():
            return shipped
    return path


def _load_all(names: Sequence[str]) -> list[tuple[Path, Scenario]]:
    loaded, errors = [], []
    for name in names:
        path = _resolve_scenario(name)
        try:
            loaded.append((path, load_scenario(path)))
        except ScenarioError as exc:
            errors.append(str(exc))
    if errors:
        raise _ScenarioErrors("\n".join(errors))
    return loaded


class _ScenarioErrors(Exception):
    pass


class _ProgressLine:
    """Shows where a run is: a line per phase and fault, and on a terminal a live counter."""

    def __init__(self) -> None:
        self.live = sys.stdout.isatty()
        self.width = 0

    def _clear(self) -> None:
        if self.live and self.width:
            sys.stdout.write("\r" + " " * self.width + "\r")
            self.width = 0

    def __call__(self, kind: str, item: Progress | Event) -> None:
        if isinstance(item, Event):
            texts = {
                "phase-start": f"  > phase {item.phase} ({item.detail})",
                "fault-on": f"    fault on:  {item.detail}",
                "fault-off": f"    fault off: {item.detail}",
                "rollback": f"    rollback:  {item.detail}",
                "flap-down": f"      link down ({item.detail})",
                "flap-up": "      link up",
                "error": f"    error: {item.detail}",
            }
            if item.kind in texts:
                self._clear()
                say(texts[item.kind])
        elif self.live:
            counts = "  ".join(f"{name} {ok}/{total}" for name, (ok, total) in item.counts.items())
            faults = ", ".join(item.faults) or "no fault"
            text = f"    {item.phase.name} {item.elapsed:4.1f}/{item.phase.duration:g} s  [{faults}]  ok/ops: {counts}"
            self._clear()
            sys.stdout.write(text)
            sys.stdout.flush()
            self.width = len(text)

    def done(self) -> None:
        self._clear()


def _check_all(
    loaded: list[tuple[Path, Scenario]], backend: Backend, skip_unsupported: bool = False
) -> tuple[list[tuple[Path, Scenario]], list[Skipped]]:
    """Refuse every scenario whose faults this backend cannot do, before anything starts (or skip them)."""
    problems, runnable, skipped = [], [], []
    for path, scenario in loaded:
        try:
            check_scenario(backend, scenario)
            runnable.append((path, scenario))
        except BackendError as exc:
            problems.append(f"{path}: {exc}")
            skipped.append(Skipped(scenario=str(path), title=scenario.title, reason=str(exc)))
    if problems and not skip_unsupported:
        raise UnsupportedFault("\n".join(problems))
    for problem in problems:
        say(f"Skipped {problem}")
    return runnable, skipped


def _by_size(
    loaded: list[tuple[Path, Scenario]], backend: Backend | None
) -> tuple[list[tuple[Path, Scenario]], tuple[int, int], list[Skipped]]:
    """The scenarios for one island or one region of the same size (`islands:`, `hub_nodes:`): the
    size of the island that is up, else the first scenario's. In a run of several (the whole library)
    the others are skipped, saying how to run them; alone, a scenario is refused by what it needs."""
    wanted = (backend.islands, backend.hub_nodes) if backend is not None else loaded[0][1].size
    fits = [(path, scenario) for path, scenario in loaded if scenario.size == wanted]
    if not fits:
        return loaded, wanted, []
    apart = []
    for path, scenario in loaded:
        if scenario.size != wanted:
            nodes = f" with a hub of {scenario.hub_nodes} nodes" if scenario.hub_nodes > 1 else ""
            size = "one island" if scenario.islands == 1 else f"a region of {scenario.islands} islands{nodes}"
            reason = (
                f"needs {size}; run it by itself (`island scenario run {path}`"
                + (", after `island down`" if backend is not None else "")
                + f"): it brings up its {'island' if scenario.islands == 1 else 'region'}"
            )
            say(f"Skipped {path}: {reason}")
            apart.append(Skipped(scenario=str(path), title=scenario.title, reason=reason))
    return fits, wanted, apart


async def _run_scenarios(
    loaded: list[tuple[Path, Scenario]], backend: Backend, out: Path, skipped: Sequence[Skipped] = ()
) -> bool:
    all_passed = True
    results: list[Result] = []
    out.mkdir(parents=True, exist_ok=True)
    (out / "junit.xml").write_text(render_junit(results, skipped), encoding="utf-8")
    https_off = backend.https_off()
    for path, scenario in loaded:
        if https_off is not None:  # HTTPS off here: its probes are not run, HTTP is unchanged
            scenario, left_out = without_https_probes(scenario)
            if left_out:
                say(f"Not run: {', '.join(left_out)} (HTTPS is off: {https_off}).")
        say(f"Running {scenario.title} ({path}), {scenario.duration:g} s ...")
        progress = _ProgressLine()
        try:
            journal = await run_scenario(scenario, path, backend, progress)
        finally:
            progress.done()
        result = evaluate(journal, scenario)
        expiring = expiry_warning(await _tls_status(backend), cut_seconds(scenario))
        if expiring:
            result = replace(result, warnings=(*result.warnings, expiring))
        report = render_text(result)
        folder = out / path.stem
        journal.write(folder / "journal.json")
        (folder / "report.txt").write_text(report + "\n", encoding="utf-8")
        (folder / "timeline.svg").write_text(render_svg(journal), encoding="utf-8")
        (folder / "report.md").write_text(render_markdown(result, "timeline.svg"), encoding="utf-8")
        (folder / "report.json").write_text(render_json(result), encoding="utf-8")
        results.append(result)
        (out / "junit.xml").write_text(render_junit(results, skipped), encoding="utf-8")
        say()
        say(report)
        say(
            f"Journal: {folder / 'journal.json'}   Report: {folder / 'report.md'}   Timeline: {folder / 'timeline.svg'}"
        )
        say()
        all_passed &= result.passed
    return all_passed


def _default_out() -> Path:
    return Path("out") / datetime.now().strftime("%Y%m%d-%H%M%S")


async def cmd_scenario_run(args: argparse.Namespace, state: StateDir) -> int:
    loaded = _load_all(args.files)
    site = _site_file(getattr(args, "site", None))
    out = Path(args.out) if args.out else _default_out()
    backend = _running(state)
    started_here = backend is None
    if backend is not None and site is not None:
        rehearsed = backend.site.file if backend.site is not None else None
        if rehearsed != str(Path(site[0]).resolve()):
            raise BackendError(
                f"the island that is up was not started from {site[0]} ({rehearsed or 'the demo island'}); "
                "stop it with `island down`, or leave out --site to use it"
            )
    loaded, wanted, apart = _by_size(loaded, backend)
    clean = [str(path) for path, scenario in loaded if scenario.clean_registry]
    if clean and not started_here:
        raise BackendError(
            f"{', '.join(clean)} needs a clean registry, and the island that is up keeps its data. "
            "Stop it with `island down` and run the scenario again: it then starts an island of its own "
            "with an empty data folder, deleted afterwards"
        )
    if backend is not None and args.backend and backend.name != args.backend:
        raise BackendError(
            f"an island is up on the {backend.name} backend, not {args.backend}; "
            "stop it with `island down` or leave out --backend"
        )
    loaded, skipped = _check_all(
        loaded,
        backend or open_backend(args.backend or "local", state, islands=wanted[0], hub_nodes=wanted[1]),
        getattr(args, "skip_unsupported", False),
    )
    skipped += apart
    if backend is None:  # started_here
        # A scenario that needs a clean registry gets a data folder of its own, inside the state folder:
        # `island down` at the end of the run deletes it, and the island's own data is never touched.
        backend = await _up(
            state,
            args.backend or "local",
            state.path / "clean-data" if clean else None,
            site,
            islands=wanted[0],
            hub_nodes=wanted[1],
        )
    else:
        say(f"Using the island that is already up (backend: {backend.name}).")
    try:
        passed = await _run_scenarios(loaded, backend, out, skipped)
    finally:
        if started_here:
            say("Stopping the island it started ...")
            await asyncio.shield(backend.stop(lambda _: None))
        else:
            await backend.close_probes()
    if len(loaded) > 1:
        say(
            f"{'All scenarios passed' if passed else 'At least one scenario FAILED'} ({len(loaded)} run). Reports in {out}"
        )
    t = backend.addresses
    if started_here:
        say(f"To open the crisis page yourself: `island up`, then browse to {t.site_url}")
    else:
        say(f"The island is still up: crisis page at {t.site_url}; stop it with `island down`.")
    return EXIT_OK if passed else EXIT_FAILED


async def cmd_scenario_list(args: argparse.Namespace, state: StateDir) -> int:
    for path in sorted(SCENARIO_DIR.glob("*.yaml")):
        try:
            scenario = load_scenario(path)
            say(f"{path.stem:<24} {scenario.title}  ({scenario.duration:g} s)")
        except ScenarioError as exc:
            say(f"{path.stem:<24} INVALID: {exc}")
    return EXIT_OK


async def cmd_scenario_schema(args: argparse.Namespace, state: StateDir) -> int:
    print(schema_text(), end="")
    return EXIT_OK


async def cmd_demo(args: argparse.Namespace, state: StateDir) -> int:
    args.files = [str(SCENARIO_DIR / "full-outage.yaml")]
    args.backend = args.backend or "local"
    if _running(state) is not None:
        raise BackendError(
            "an island is already up; `island demo` starts its own. Stop it first with `island down`."
        )
    return await cmd_scenario_run(args, state)


async def cmd_bundle(args: argparse.Namespace, state: StateDir) -> int:
    from .compose.bundle import BundleError, write_bundle

    try:
        await asyncio.to_thread(write_bundle, Path(args.out), say, not args.no_images)
    except BundleError as exc:
        _error(str(exc))
        return EXIT_ERROR
    say(f"The bundle is in {args.out}; its README.md says how to install it with no internet.")
    return EXIT_OK


# Wiring ----------------------------------------------------------------------------------------

SITE_HELP = (
    "rehearse the island of a site file (island.site.yaml) instead of the demo island: on netns its "
    "rendered configuration on its own addresses"
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="island",
        description="Ödrift island network: keep the crisis page reachable when the uplink is cut, and prove it.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    backends = sorted(BACKENDS)

    up = sub.add_parser("up", help="start the island and wait until every service is healthy")
    up.add_argument("--backend", choices=backends, default="local")
    up.add_argument("--detach", action="store_true", help="return once it is up (stop it with `island down`)")
    up.add_argument("--site", metavar="SITE", help=SITE_HELP)
    up.add_argument(
        "--islands",
        type=int,
        default=1,
        metavar="N",
        help="a region: a hub and N islands, replicating over NATS (default 1: one island, no region)",
    )
    up.add_argument(
        "--hub-nodes",
        type=int,
        choices=(1, 3),
        default=1,
        metavar="N",
        help="a region's hub: one nats-server (default), or a cluster of 3 that goes on with one node down",
    )
    up.set_defaults(func=cmd_up)

    down = sub.add_parser(
        "down", help="stop the island and remove everything it made, except its data folder"
    )
    down.add_argument(
        "--purge",
        action="store_true",
        help="also delete the data folder (the site's messages, editor accounts, registry); asks first",
    )
    down.add_argument("--yes", action="store_true", help="with --purge: do not ask (for scripts)")
    down.set_defaults(func=cmd_down)

    restart = sub.add_parser("restart", help="restart one service of the island and wait until it answers")
    restart.add_argument("service", metavar="SERVICE", help="upstream, uplink, resolver or site")
    restart.set_defaults(func=cmd_restart)

    status = sub.add_parser("status", help="show what runs where")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=cmd_status)

    uplink = sub.add_parser("uplink", help="cut or restore the island's connection to the internet")
    uplink_sub = uplink.add_subparsers(dest="action", required=True, metavar="ACTION")
    cut = uplink_sub.add_parser("cut", help="cut the uplink")
    cut.add_argument(
        "--mode",
        choices=["blackhole", "reject"],
        default="blackhole",
        help="blackhole: traffic vanishes silently (default); reject: it is refused at once",
    )
    uplink_sub.add_parser("restore", help="heal the uplink")
    uplink.set_defaults(func=cmd_uplink)

    scenario = sub.add_parser("scenario", help="run or list outage scenarios")
    scenario_sub = scenario.add_subparsers(dest="action", required=True, metavar="ACTION")
    run = scenario_sub.add_parser("run", help="run scenario files; exit 0 only if every check held")
    run.add_argument("files", nargs="+", metavar="FILE", help="scenario files, or names of shipped scenarios")
    run.add_argument("--out", help="folder for journals and reports (default: out/<time>)")
    run.add_argument(
        "--backend",
        choices=backends,
        default=None,
        help="backend to start when no island is up (default local)",
    )
    run.add_argument("--site", metavar="SITE", help=SITE_HELP + " (when no island is up)")
    run.add_argument(
        "--skip-unsupported",
        action="store_true",
        help="skip (and name) scenarios whose faults the backend cannot do, instead of refusing all",
    )
    run.set_defaults(func=cmd_scenario_run)
    listing = scenario_sub.add_parser("list", help="list the shipped scenarios")
    listing.set_defaults(func=cmd_scenario_list)
    schema = scenario_sub.add_parser("schema", help="print the scenario format as JSON Schema")
    schema.set_defaults(func=cmd_scenario_schema)

    demo = sub.add_parser(
        "demo", help="start the island, run the full-outage scenario, print the report, stop"
    )
    demo.add_argument("--out", help="folder for the journal and report")
    demo.add_argument("--backend", choices=backends, default=None)
    demo.set_defaults(func=cmd_demo)

    register_site(sub)
    register_deploy(sub)
    bundle = sub.add_parser("bundle", help="write what an island needs to be installed with no internet")
    bundle.add_argument(
        "out", metavar="OUT", help="folder for the wheelhouse, images.tar, compose file, README"
    )
    bundle.add_argument(
        "--no-images", action="store_true", help="leave out the Docker image (no engine needed)"
    )
    bundle.set_defaults(func=cmd_bundle)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    state = StateDir()
    try:
        code: int = asyncio.run(args.func(args, state))
        return code
    except SiteFileError as exc:
        _error(f"the site file has problems, nothing was started; fix each line below and try again:\n{exc}")
        return EXIT_BAD_INPUT
    except (ScenarioError, _ScenarioErrors, UnsupportedFault) as exc:
        _error(f"scenario refused, nothing was started:\n{exc}")
        return EXIT_BAD_INPUT
    except BackendError as exc:
        _error(str(exc))
        return EXIT_ERROR
    except KeyboardInterrupt:
        _error("interrupted; everything it started has been stopped.")
        return 130


if __name__ == "__main__":
    sys.exit(main())
