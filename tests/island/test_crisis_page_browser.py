"""The browser tier: a real headless Chromium (Debian's) opens the crisis page BY NAME through the
island resolver while the uplink is cut, at a phone's size, and checks what a resident sees.
How Chromium resolves names on the island: browser_test_helpers.py.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_test_helpers import OUTPUT, PHONE, ROOT, axe_violations, cut_island, launch_chromium
from island_test_helpers import IslandCLI, island_net

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

NET = island_net(4)


@pytest.fixture(scope="module")
def island(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IslandCLI]:
    with cut_island(tmp_path_factory.mktemp("browser-island"), NET) as cli:
        yield cli


def _luminance(rgb: tuple[int, int, int]) -> float:
    def channel(c: int) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(fg: str, bg: str) -> float:
    parse = lambda s: tuple(int(x) for x in re.findall(r"\d+", s)[:3])  # noqa: E731
    a, b = sorted((_luminance(parse(fg)), _luminance(parse(bg))), reverse=True)
    return (a + 0.05) / (b + 0.05)


def test_crisis_page_by_name_in_chromium_while_the_uplink_is_cut(island: IslandCLI, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    status = island.status()
    assert status["uplink"] == "cut"
    url = status["site"]["by_name"]  # http://krisinfo.kommun.example/ (with :8080 without root)
    OUTPUT.mkdir(exist_ok=True)

    with sync_playwright() as p:
        browser = launch_chromium(p, status, tmp_path, NET)
        try:
            context = browser.new_context(
                viewport=PHONE,
                device_scale_factor=2,
                is_mobile=True,
                has_touch=True,
                locale="sv-SE",
                bypass_csp=False,
            )
            page = context.new_page()
            problems: list[str] = []
            hosts: set[str] = set()
            page.on(
                "console",
                lambda m: (
                    problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None
                ),
            )
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("request", lambda r: hosts.add(r.url.split("/")[2]))
            response = page.goto(url, wait_until="load", timeout=20_000)
            assert response is not None and response.status == 200
            assert page.locator("h1").inner_text() == "Krisinformation"
            assert page.evaluate("document.documentElement.lang") == "sv"
            assert page.title() == "Krisinformation – Sjöbacka kommun"
            assert "Omfattande el- och teleavbrott efter stormen" in page.content()  # synced before the cut
            notice = page.locator("#avbrott").inner_text()
            assert notice.startswith(
                "Ingen kontakt med kommunens centrala webbplats just nu. Senast vi hörde"
            )
            assert problems == [], problems
            assert hosts == {url.split("/")[2]}, f"every request stays on the island: {hosts}"
            # The page fits the phone: no sideways scrolling at 360 px.
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
            screenshot = OUTPUT / "crisis-page-phone.png"
            page.screenshot(path=str(screenshot), full_page=False)
            assert screenshot.stat().st_size > 10_000
            if os.environ.get("ISLAND_UPDATE_DOCS") == "1":
                shutil.copyfile(screenshot, ROOT / "docs" / "crisis-page-phone.png")
            page.screenshot(path=str(OUTPUT / "crisis-page-phone-full.png"), full_page=True)

            # Accessibility, automated: axe-core (WCAG 2.0/2.1 A and AA rules) in the page itself.
            axe_page = browser.new_context(
                viewport=PHONE, bypass_csp=True
            ).new_page()  # axe is a script; the page forbids scripts
            for target in (
                url,
                url + "?lang=ar",
                url + "?lang=sv-x-ll",
                url + "utskrift",
                url + "redaktion/logga-in",
                url + "api",
            ):
                axe_page.goto(target, wait_until="load")
                assert axe_violations(axe_page) == [], target

            # What axe cannot see: reflow at 320 px and text at 200 % without sideways scrolling.
            narrow = browser.new_context(viewport={"width": 320, "height": 640}).new_page()
            for target in (url + "?lang=ar", url + "?lang=fi", url + "redaktion/logga-in", url):
                narrow.goto(target, wait_until="load")
                assert narrow.evaluate("document.documentElement.scrollWidth") <= 320, target
                narrow.evaluate("document.documentElement.style.fontSize = '200%'")
                assert narrow.evaluate("document.documentElement.scrollWidth") <= 320, f"{target} at 200 %"
            # The skip link is the first thing the keyboard reaches, and it leads to the content.
            narrow.keyboard.press("Tab")
            assert narrow.evaluate("document.activeElement.getAttribute('href')") == "#innehall"
            assert narrow.evaluate("document.activeElement.getBoundingClientRect().width") > 0
            # Headings in order: one h1, and no level skipped.
            levels = narrow.evaluate("[...document.querySelectorAll('h1,h2,h3,h4')].map(h => +h.tagName[1])")
            assert levels[0] == 1 and levels.count(1) == 1
            assert all(b - a <= 1 for a, b in zip(levels, levels[1:])), levels
            # Contrast of the colours the browser computed, against WCAG AA's 4.5:1.
            for selector in ("body", "a", ".meta", ".no", ".vmalabel", ".status", ".cut"):
                if narrow.locator(selector).count() == 0:
                    continue
                fg, bg = narrow.evaluate(
                    "(s) => { const e = document.querySelector(s); let b = e, c = getComputedStyle(e).color;"
                    " while (b && getComputedStyle(b).backgroundColor === 'rgba(0, 0, 0, 0)') b = b.parentElement;"
                    " return [c, b ? getComputedStyle(b).backgroundColor : 'rgb(255, 255, 255)']; }",
                    selector,
                )
                assert contrast(fg, bg) >= 4.5, f"{selector}: {fg} on {bg} is {contrast(fg, bg):.2f}:1"
        finally:
            browser.close()
