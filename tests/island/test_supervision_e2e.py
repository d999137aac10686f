"""A crashed service comes back by itself, and the site's data outlives crashes and `island down`.

The real `island` command on loopback: the site is killed with SIGKILL and the island's watchdog
starts it again, `island status` says so, and the 50 residents the registry acknowledged before
(and the editor account) are all still there after the crash and after `island down && island up`.
Only `island down --purge --yes` deletes the data folder.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
from pathlib import Path

import httpx
import pytest
from island_test_helpers import IslandCLI, island_cli, island_net, island_processes

from island.contract import Operation, Outcome, Person
from island.probes import Place, Prober

pytestmark = pytest.mark.e2e

NET = island_net(8)
PASSWORD = "Sjöbacka-krisledning-4711-q"
RESIDENTS = [
    Person(
        name=f"Astrid Vakt {chr(ord('a') + n // 26)}{chr(ord('a') + n % 26)}",
        identifier=f"070-{5550000 + n:07d}",
        wrong_identifier=f"070-{6660000 + n:07d}",
        message=f"Vi är OK, nummer {n}.",
    )
    for n in range(50)
]


def prober(cli: IslandCLI) -> Prober:
    status = cli.status()
    resolver = status["resolver"]
    port = (
        int(status["site"]["url"].rstrip("/").rsplit(":", 1)[-1])
        if status["site"]["url"].count(":") == 2
        else 80
    )
    return Prober(
        Place(resolver["host"], resolver["port"], port, source_address=f"{NET}.4.10"), status["crisis_name"]
    )


def registry(cli: IslandCLI, action: str, people: list[Person]) -> list[Outcome]:
    """Each resident through the registry's own form, by the crisis name, as a phone at a trygghetspunkt."""
    probe = prober(cli)

    async def all_of_them() -> list[Outcome]:
        return [
            await probe.run(
                Operation(
                    name=action,
                    registry={"action": action, "site": "http://{crisis_name}", "person": person},
                    timeout=10,
                )
            )
            for person in people
        ]

    return asyncio.run(all_of_them())


def editor_logs_in(cli: IslandCLI) -> bool:
    with httpx.Client(base_url=cli.status()["site"]["url"], timeout=10) as c:
        token = re.search(r'name="csrf" value="([^"]+)"', c.get("redaktion/logga-in").text).group(1)
        answer = c.post("redaktion/logga-in", data={"csrf": token, "username": "anna", "password": PASSWORD})
        return answer.status_code == 303


def everyone_is_found(cli: IslandCLI) -> None:
    outcomes = registry(cli, "lookup", RESIDENTS)
    assert [o.status for o in outcomes] == ["ok"] * len(RESIDENTS), [
        o.detail for o in outcomes if o.status != "ok"
    ]


def wait_for_restart(cli: IslandCLI, old_pid: int, within: float) -> dict:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        site = cli.status()["services"]["site"]
        if site["running"] and site["pid"] != old_pid:
            return site
        time.sleep(0.2)
    raise AssertionError(
        f"the site did not come back within {within:g} s: {cli.status()['services']['site']}"
    )


def test_a_killed_site_comes_back_by_itself_with_every_registration_and_account(tmp_path: Path) -> None:
    cli = island_cli(tmp_path, NET)
    up = cli.run("up", "--detach", check=True)
    data = tmp_path / "state-data"
    assert f"Data:            {data}" in up.stdout
    try:
        add = cli.add_editor("anna", PASSWORD)
        assert add.returncode == 0, add.stderr
        assert [o.status for o in registry(cli, "register", RESIDENTS)] == ["ok"] * 50, "all acknowledged"

        # kill -9: nobody stops it properly, nobody starts it again by hand.
        old_pid = cli.status()["services"]["site"]["pid"]
        os.kill(old_pid, signal.SIGKILL)
        site = wait_for_restart(cli, old_pid, within=15)
        assert site["restarts"] == 1 and site["last_restart"]
        shown = cli.run("status", check=True).stdout
        assert re.search(r"site\s+running\s+.*restarted 1 time, last at 20", shown), shown
        assert "watchdog  running" in shown and f"Data:        {data}" in shown
        assert "had stopped; starting it again (restart 1)" in (tmp_path / "state" / "site.log").read_text()
        everyone_is_found(cli)
        assert editor_logs_in(cli)

        # An operator's restart is not a crash: it is done at once and waits until the site answers.
        restarted = cli.run("restart", "site", check=True)
        assert "The site is running again and answers." in restarted.stdout
        assert cli.status()["services"]["site"]["restarts"] == 1

        # A scenario that needs an empty registry refuses the island that keeps its data.
        clean = tmp_path / "clean.yaml"
        clean.write_text(
            "title: t\nclean_registry: true\nprobes: [{name: p, dns: {name: '{crisis_name}'}}]\n"
            "phases: [{name: a, duration: 1}]\n",
            encoding="utf-8",
        )
        refused = cli.run("scenario", "run", str(clean), "--out", str(tmp_path / "out"))
        assert refused.returncode == 3 and "needs a clean registry" in refused.stderr

        down = cli.run("down", check=True)
        assert f"Its data is kept in {data}" in down.stdout
        assert island_processes(cli) == [], "the watchdog or a service outlived island down"
        cli.run("up", "--detach", check=True)
        everyone_is_found(cli)
        assert editor_logs_in(cli)
    finally:
        purged = cli.run("down", "--purge", "--yes")
    assert purged.returncode == 0 and f"Deleted the island's data folder {data}" in purged.stdout
    assert not data.exists() and island_processes(cli) == []
