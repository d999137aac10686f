"""The crisis site on a real island: synced from the municipality through the uplink, kept through
a cut, fresh again after it, and publishing on the island (account made with `island site add-editor`)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from island_test_helpers import IslandCLI, island_cli, island_net, island_processes

from island.service_specs import FEED_POLL_SECONDS

pytestmark = pytest.mark.e2e

NET = island_net(3)
PASSWORD = "trygghetspunkt-2025"


@pytest.fixture(scope="module")
def island(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IslandCLI]:
    cli = island_cli(tmp_path_factory.mktemp("site-island"), NET)
    cli.run("up", "--detach", check=True)
    yield cli
    cli.run("uplink", "restore")
    assert cli.run("down").returncode == 0
    assert island_processes(cli) == []


def site_url(cli: IslandCLI) -> str:
    return cli.status()["site"]["url"].rstrip("/")


def upstream_url(cli: IslandCLI) -> str:
    port = site_url(cli).rsplit(":", 1)[-1] if site_url(cli).count(":") == 2 else "80"
    return f"http://{NET}.1.1:{port}"


def crisis(cli: IslandCLI) -> dict[str, Any]:
    return httpx.get(f"{site_url(cli)}/api/crisis.json", timeout=5).json()


def wait_for(what: str, check: Callable[[], bool], within: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < within:
        if check():
            return time.monotonic() - started
        time.sleep(0.2)
    raise AssertionError(f"not within {within:g} s: {what}")


def message(identifier: str, headline: str) -> dict[str, Any]:
    return {
        "identifier": identifier,
        "sender": "Sjöbacka kommun, krisledningen",
        "sent": datetime.now(UTC).isoformat(),
        "severity": "Severe",
        "urgency": "Immediate",
        "certainty": "Observed",
        "area": "Sjöbacka kommun",
        "info": [{"language": "sv", "headline": headline, "description": "Från kommunens centrala flöde."}],
    }


def set_feed(cli: IslandCLI, *messages: dict[str, Any]) -> None:
    # Straight to the simulated internet, not through the (maybe cut) uplink.
    r = httpx.put(
        f"{upstream_url(cli)}/_sim/feed", json={"messages": list(messages), "mode": "normal"}, timeout=5
    )
    r.raise_for_status()


def headlines(cli: IslandCLI) -> list[str]:
    return [m["info"][0]["headline"] for m in crisis(cli)["messages"]]


def test_sync_cut_and_return(island: IslandCLI) -> None:
    interval = FEED_POLL_SECONDS
    wait_for("the first sync", lambda: crisis(island)["sync"]["reachable"] is True, 3 * interval)
    assert headlines(island) == ["Omfattande el- och teleavbrott efter stormen"]

    set_feed(island, message("e2e-1", "Första uppdateringen från kommunen"))
    wait_for(
        "the update through the uplink",
        lambda: headlines(island) == ["Första uppdateringen från kommunen"],
        2 * interval + 1,
    )
    heard_before_cut = crisis(island)["sync"]["last_heard"]

    island.run("uplink", "cut", "--mode", "blackhole", check=True)
    try:
        wait_for(
            "the page to say the municipality is out of reach",
            lambda: crisis(island)["sync"]["reachable"] is False,
            3 * interval + 2,
        )
        set_feed(island, message("e2e-2", "Andra uppdateringen, skickad under avbrottet"))
        time.sleep(interval + 1)
        page = httpx.get(f"{site_url(island)}/", timeout=5).text
        assert "Första uppdateringen från kommunen" in page, "the last good content stays"
        assert "Andra uppdateringen" not in page
        notice = re.search(r'<p class="cut" id="avbrott">(.*?)</p>', page).group(1)
        assert notice.startswith(
            "<strong>Ingen kontakt med kommunens centrala webbplats just nu.</strong> "
            "Senast vi hörde från kommunen var "
        )
        last = datetime.fromisoformat(crisis(island)["sync"]["last_heard"])
        assert last >= datetime.fromisoformat(heard_before_cut)
        assert f"kl. {last.hour:02d}.{last.minute:02d}" in notice
    finally:
        island.run("uplink", "restore", check=True)
    # Fresh within one poll interval (plus the poll that was timing out when the uplink returned).
    took = wait_for(
        "fresh after the uplink returns",
        lambda: (
            headlines(island) == ["Andra uppdateringen, skickad under avbrottet"]
            and crisis(island)["sync"]["reachable"] is True
        ),
        2 * interval + 1,
    )
    print(f"fresh {took:.1f} s after the uplink returned (poll interval {interval:g} s)")
    assert "Ingen kontakt" not in httpx.get(f"{site_url(island)}/", timeout=5).text


def test_publishing_on_the_island(island: IslandCLI) -> None:
    add = island.add_editor("anna", PASSWORD)
    assert add.returncode == 0, add.stderr
    assert "Editor anna can now log in at /redaktion" in add.stdout
    weak = island.add_editor("bo", "kort")
    assert weak.returncode == 2 and "at least 12 characters" in weak.stderr

    with httpx.Client(base_url=site_url(island), timeout=5) as c:
        form = c.get("/redaktion/logga-in").text
        token = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
        r = c.post("/redaktion/logga-in", data={"csrf": token, "username": "anna", "password": PASSWORD})
        assert r.status_code == 303
        token = re.search(r'name="csrf" value="([^"]+)"', c.get("/redaktion").text).group(1)
        r = c.post(
            "/redaktion/meddelanden",
            data={
                "csrf": token,
                "headline": "Kaffe och soppa i kulturhuset kl. 12",
                "description": "Alla är välkomna.",
                "area": "Sjöbacka",
                "severity": "Minor",
                "urgency": "Expected",
                "certainty": "Observed",
                "status": "Actual",
            },
        )
        assert r.status_code == 303
    assert "Kaffe och soppa i kulturhuset kl. 12" in httpx.get(f"{site_url(island)}/", timeout=5).text
    # A later sync from the municipality replaces its own messages, never the island's.
    set_feed(island, message("e2e-3", "Tredje uppdateringen från kommunen"))
    wait_for(
        "the next sync",
        lambda: "Tredje uppdateringen från kommunen" in headlines(island),
        2 * FEED_POLL_SECONDS + 1,
    )
    assert "Kaffe och soppa i kulturhuset kl. 12" in headlines(island)
