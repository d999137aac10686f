"""What Android's sign-in sheet shows during a cut: Chromium in a trygghetspunkt's namespace (netns backend),
JavaScript off, at 360x640, opens Android's connectivity check as the sheet does, follows the island
portal's redirect, and shows the crisis page with the registry's link. Needs root (namespaces)."""

from __future__ import annotations

import asyncio
import os
import shutil
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_test_helpers import CHROMIUM, FLAGS, OUTPUT, PHONE, ROOT, chromium_reason
from island_test_helpers import IslandCLI, island_net
from tiers import require_tier

from island.backends import _netns
from island.backends.netns import NetnsBackend
from island.contract import Operation, PhoneCheck
from island.probes import PHONE_CHECKS
from island.state import StateDir

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

ANDROID_CHECK = PHONE_CHECKS["android"][0]  # http://connectivitycheck.gstatic.com/generate_204
SCREENSHOT = "phones-android-sign-in-sheet.png"


def reason() -> str | None:
    return chromium_reason() or _netns.unavailable_reason()


@pytest.fixture(scope="module")
def island(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IslandCLI]:
    require_tier("browser", reason())
    cli = IslandCLI(tmp_path_factory.mktemp("phones-browser") / "state", island_net(8))
    cli.run("up", "--backend", "netns", "--detach", check=True)
    try:
        cli.run("uplink", "cut", "--mode", "blackhole", check=True)
        asyncio.run(_until_island_mode(cli.state_dir))
        yield cli
    finally:
        cli.run("uplink", "restore")
        assert cli.run("down").returncode == 0


async def _until_island_mode(state_dir: Path) -> None:
    """Until a phone at the trygghetspunkt would be shown the sign-in sheet (the island noticed the cut)."""
    backend = NetnsBackend(StateDir(state_dir))
    check = Operation(name="android", phone=PhoneCheck(os="android"), timeout=4)
    deadline = time.monotonic() + 20
    try:
        while time.monotonic() < deadline:
            if (await backend.probe(check)).detail.startswith("portal"):
                return
    finally:
        await backend.close_probes()
    raise AssertionError("the island did not enter island mode within 20 s of the cut")


def chromium_in(namespace: str, folder: Path) -> str:
    """Chromium in the namespace: its network, and (``ip netns exec``) its resolv.conf, the island resolver."""
    wrapper = folder / "chromium-at-the-trygghetspunkt"
    wrapper.write_text(f'#!/bin/sh\nexec ip netns exec {namespace} {CHROMIUM} "$@"\n', encoding="utf-8")
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return str(wrapper)


def test_android_sign_in_sheet_shows_the_crisis_page_without_javascript(
    island: IslandCLI, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    namespace = NetnsBackend(StateDir(island.state_dir)).plan.place_namespace("trygghetspunkt-a")
    OUTPUT.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium_in(namespace, tmp_path),
            # The sheet is a WebView that loads the check's URL as it is: no HTTPS upgrade first.
            args=[*FLAGS, "--disable-features=HttpsUpgrades"],
            headless=True,
            env={**os.environ, "HOME": str(tmp_path)},
        )
        try:
            context = browser.new_context(
                viewport=PHONE,
                device_scale_factor=2,
                is_mobile=True,
                locale="sv-SE",
                java_script_enabled=False,
            )
            page = context.new_page()
            response = page.goto(ANDROID_CHECK, wait_until="load", timeout=20_000)
            assert response is not None and response.status == 200
            # The portal redirected the check to the crisis page by its name; the sheet followed.
            redirected = response.request.redirected_from
            assert redirected is not None and redirected.url == ANDROID_CHECK
            first = redirected.response()
            assert first is not None and first.status == 302
            assert page.url == "http://krisinfo.kommun.example/"
            # What the resident sees: the crisis page in Swedish, and the way to the registry.
            assert page.locator("h1").inner_text() == "Krisinformation"
            # What the sheet shows first, as the resident sees it (docs/phones.md).
            screenshot = OUTPUT / SCREENSHOT
            page.screenshot(path=str(screenshot), full_page=False)
            assert screenshot.stat().st_size > 10_000
            if os.environ.get("ISLAND_UPDATE_DOCS") == "1":
                shutil.copyfile(screenshot, ROOT / "docs" / SCREENSHOT)
            link = page.get_by_role("link", name="Meddela att du är OK, eller sök efter en anhörig")
            assert link.is_visible() and link.get_attribute("href") == "/anhoriga?lang=sv"
            # Nothing of it needs JavaScript: the registry opens from the link, its forms post.
            link.click()
            page.wait_for_url("http://krisinfo.kommun.example/anhoriga?lang=sv")
            assert page.locator("form, a[href^='/anhoriga/']").count() > 0
        finally:
            browser.close()
