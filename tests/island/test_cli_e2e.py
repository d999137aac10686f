"""The island end to end: the real `island` command, real processes, real sockets on loopback."""

from __future__ import annotations

import json
import os
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import dns.message
import dns.query
import dns.rcode
import httpx
import pytest
from island_test_helpers import IslandCLI, island_cli, island_net, island_processes

pytestmark = pytest.mark.e2e

HERE = Path(__file__).parent
NET = island_net(0)


@pytest.fixture(scope="module")
def island(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IslandCLI]:
    cli = island_cli(tmp_path_factory.mktemp("island"), NET)
    up = cli.run("up", "--detach", check=True)
    assert "started resolver" in up.stdout and "http://" in up.stdout
    yield cli
    down = cli.run("down")
    assert down.returncode == 0, down.stderr
    assert "The island is down." in down.stdout
    assert island_processes(cli) == [], "island down left processes running"
    assert not (cli.state_dir / "state.json").exists()


def ask(status: dict, name: str, timeout: float = 5.0) -> tuple[dns.message.Message, float]:
    """An independent DNS client (dnspython) from the resident's address; returns the answer and seconds."""
    resolver = status["resolver"]
    query = dns.message.make_query(name, "A")
    started = time.monotonic()
    answer = dns.query.udp(
        query, resolver["host"], port=resolver["port"], timeout=timeout, source=f"{NET}.4.10"
    )
    return answer, time.monotonic() - started


def addresses(answer: dns.message.Message) -> list[str]:
    return [rr.address for rrset in answer.answer for rr in rrset if rrset.rdtype == 1]


def test_status_json_says_where_everything_is(island: IslandCLI) -> None:
    status = island.status()
    assert status["backend"] == "local"
    assert status["crisis_name"] == "krisinfo.kommun.example"
    assert status["resolver"]["host"] == f"{NET}.3.1"
    assert status["site"]["url"].startswith(f"http://{NET}.3.2")
    assert status["uplink"] == "up"
    human = island.run("status").stdout
    assert "resolver" in human and "running" in human and status["site"]["url"] in human


def test_crisis_page_is_served_by_name_through_the_island_resolver(island: IslandCLI) -> None:
    status = island.status()
    answer, _ = ask(status, status["crisis_name"])
    assert answer.rcode() == dns.rcode.NOERROR
    assert addresses(answer) == [f"{NET}.3.2"]
    assert all(rrset.ttl <= 60 for rrset in answer.answer), "the island's own names carry a short TTL"
    port = (
        int(status["site"]["url"].rstrip("/").rsplit(":", 1)[-1])
        if status["site"]["url"].count(":") == 2
        else 80
    )
    page = httpx.get(
        f"http://{addresses(answer)[0]}:{port}/", headers={"Host": status["crisis_name"]}, timeout=5
    )
    assert page.status_code == 200
    assert "Krisinformation" in page.text
    assert "<script" not in page.text.lower()
    feed = httpx.get(f"{status['site']['url']}api/crisis.json", timeout=5).json()
    assert feed["trygghetspunkter"], "the JSON lists the trygghetspunkter"


def test_outside_names_resolve_through_the_uplink(island: IslandCLI) -> None:
    answer, _ = ask(island.status(), "www.bank.example")
    assert answer.rcode() == dns.rcode.NOERROR
    assert addresses(answer)


@pytest.mark.parametrize("mode", ["blackhole", "reject"])
def test_cut_uplink_keeps_the_crisis_name_and_fails_outside_names_fast(island: IslandCLI, mode: str) -> None:
    cut = island.run("uplink", "cut", "--mode", mode, check=True)
    assert f"The uplink is cut ({mode})" in cut.stdout
    try:
        status = island.status()
        assert status["uplink"] == "cut"
        # Asked first, so no cached answer could help: the crisis name is answered at once...
        crisis, crisis_seconds = ask(status, status["crisis_name"])
        assert crisis.rcode() == dns.rcode.NOERROR and addresses(crisis) == [f"{NET}.3.2"]
        assert crisis_seconds < 1.0, f"crisis name took {crisis_seconds:.2f} s: it waited for the upstream"
        # ...and an outside name gets SERVFAIL, never silence, within two seconds.
        outside, outside_seconds = ask(status, f"{mode}.nyheter.example")
        assert outside.rcode() == dns.rcode.SERVFAIL
        assert outside_seconds < 2.0, f"SERVFAIL came after {outside_seconds:.2f} s"
        page = httpx.get(status["site"]["url"], timeout=5)
        assert page.status_code == 200 and "Krisinformation" in page.text
    finally:
        restore = island.run("uplink", "restore", check=True)
    assert "restored" in restore.stdout
    assert island.status()["uplink"] == "up"
    answer, _ = ask(island.status(), "www.bank.example")
    assert answer.rcode() == dns.rcode.NOERROR


def wait_for_upstream(island: IslandCLI, upstream: str, state: str, seconds: float = 10.0) -> dict:
    deadline = time.monotonic() + seconds
    status = island.status()
    while status["resolver_upstreams"] != {upstream: state} and time.monotonic() < deadline:
        time.sleep(0.25)
        status = island.status()
    return status


def test_status_shows_the_resolvers_upstream_going_down_and_coming_back_by_itself(island: IslandCLI) -> None:
    status = island.status()
    upstream = f"{NET}.2.1:{status['resolver']['port']}"
    # An earlier cut may have left it down: it recovers with no restart.
    assert wait_for_upstream(island, upstream, "up")["resolver_upstreams"] == {upstream: "up"}
    island.run("uplink", "cut", "--mode", "blackhole", check=True)
    try:
        for i in range(2):  # two timeouts in a row: the resolver knows the upstream is down
            answer, _ = ask(status, f"gone{i}.nyheter.example")
            assert answer.rcode() == dns.rcode.SERVFAIL
        assert island.status()["resolver_upstreams"] == {upstream: "down"}
        assert f"resolver's upstream {upstream}: down" in island.run("status").stdout
        answer, seconds = ask(status, "www.unseen.nyheter.example")
        assert answer.rcode() == dns.rcode.SERVFAIL
        assert seconds < 0.5, f"SERVFAIL took {seconds:.2f} s although the upstream is known down"
    finally:
        island.run("uplink", "restore", check=True)
    assert wait_for_upstream(island, upstream, "up")["resolver_upstreams"] == {upstream: "up"}
    answer, _ = ask(status, "nyheter.example")
    assert answer.rcode() == dns.rcode.NOERROR and addresses(answer)


def test_up_when_already_up_says_so(island: IslandCLI) -> None:
    again = island.run("up", "--detach")
    assert again.returncode != 0
    assert "already up" in again.stderr
    assert island.status()["up"] is True


def test_full_outage_scenario_passes_with_the_crisis_page_at_100_percent(
    island: IslandCLI, tmp_path: Path
) -> None:
    run = island.run("scenario", "run", "full-outage", "--out", str(tmp_path))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Using the island that is already up" in run.stdout
    assert "Verdict: PASSED" in run.stdout
    journal = json.loads((tmp_path / "full-outage" / "journal.json").read_text())
    during = [op for op in journal["operations"] if op["phase"] == "during" and op["probe"] == "crisis-page"]
    assert len(during) >= 10
    assert all(op["status"] == "ok" for op in during)
    outside = [op for op in journal["operations"] if op["phase"] == "during" and op["probe"] == "outside-dns"]
    # The bank was asked before the cut: the resolver answers it from its cache all through the cut.
    assert outside and all(op["status"] == "ok" for op in outside), "names seen before stay answered"
    assert max(op["latency_ms"] for op in outside) < 500, "cached answers never wait on the cut uplink"
    cut_at = next(e["t"] for e in journal["events"] if e["kind"] == "fault-on")
    bank_page = [
        op
        for op in journal["operations"]
        if op["phase"] == "during" and op["probe"] == "outside-page" and op["t"] >= cut_at
    ]
    assert bank_page and not any(op["status"] == "ok" for op in bank_page), (
        "the cut is real: the bank's page fails"
    )
    assert re.search(r"outside-page +recorded", run.stdout)  # recorded, not required (whatever the widths)
    kinds = [e["kind"] for e in journal["events"]]
    assert kinds.count("fault-on") == 1 and kinds.count("fault-off") == 1
    assert (tmp_path / "full-outage" / "report.txt").read_text().startswith("Scenario: Full outage")
    assert island.status()["uplink"] == "up", "the scenario heals what it cut"


def test_false_hypothesis_fails_the_run(island: IslandCLI, tmp_path: Path) -> None:
    run = island.run(
        "scenario", "run", str(HERE / "scenarios" / "outside-required.yaml"), "--out", str(tmp_path)
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "Verdict: FAILED" in run.stdout
    assert island.status()["uplink"] == "up"


def test_bad_scenario_is_refused_before_anything_starts(tmp_path: Path) -> None:
    cli = island_cli(tmp_path, island_net(2))
    bad = HERE / "scenarios" / "bad-field.yaml"
    run = cli.run("scenario", "run", str(bad))
    assert run.returncode == 2
    assert f"{bad}:8: phases[0].fualts: unknown field" in run.stderr
    assert "Starting" not in run.stdout
    assert island_processes(cli) == []


def test_down_when_none_is_up_says_so(tmp_path: Path) -> None:
    cli = island_cli(tmp_path, island_net(2))
    down = cli.run("down")
    assert down.returncode == 0
    assert "No island is up" in down.stdout


def test_a_taken_port_is_named_with_its_service(tmp_path: Path) -> None:
    cli = island_cli(tmp_path, island_net(1))
    site = f"{island_net(1)}.3.2"
    port = 80 if _is_root() else 8080
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind((site, port))
        squatter.listen()
        run = cli.run("up", "--detach")
    assert run.returncode == 3
    assert f"port {port}/tcp on {site} is already in use, and the crisis site needs it" in run.stderr
    assert island_processes(cli) == []


def _is_root() -> bool:
    return os.geteuid() == 0


def test_a_site_file_with_a_region_is_refused_before_anything_starts(tmp_path: Path) -> None:
    """A site file rehearses one island: with --islands it would be half applied, so it is refused."""
    cli = island_cli(tmp_path, island_net(2))
    example = Path(__file__).resolve().parents[2] / "examples" / "island.site.yaml"
    result = cli.run("up", "--site", str(example), "--islands", "3", "--detach")
    assert result.returncode != 0
    assert "a site file rehearses one island" in result.stderr and "leave out --islands" in result.stderr
    assert island_processes(cli) == []
