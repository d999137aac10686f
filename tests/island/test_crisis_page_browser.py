"""The browser tier: a real headless Chromium (Debian's) opens the crisis page BY NAME through the
island resolver while the uplink is cut, at a phone's size, and checks what a resident sees.

Name resolution: as root (CI) the island resolver listens on port 53, and Chromium runs in a
mount namespace of its own whose /etc/resolv.conf names only the island resolver: a real DNS
path, the resolver's answer is what the browser uses. Without root the resolver is on port
5353, which no stub resolver can use; then the test asks the island resolver over DNS itself
and hands the answer to Chromium with --host-resolver-rules.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import dns.message
import dns.query
import dns.rcode
import httpx
import pytest

from island_test_helpers import IslandCLI, island_cli, island_net
from tiers import require_tier

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
AXE = ROOT / "build" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
OUTPUT = ROOT / "test-output"
NET = island_net(4)
PHONE = {"width": 360, "height": 640}
# As the machines' notes say: without the background-networking flags Chromium keeps trying the internet.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _browser_reason() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is missing (pip install -e '.[test]')"
    if not AXE.exists():
        return f"axe-core is missing at {AXE} (npm install --prefix build/axe axe-core@4)"
    return None


@pytest.fixture(scope="module")
def island(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IslandCLI]:
    require_tier("browser", _browser_reason())
    cli = island_cli(tmp_path_factory.mktemp("browser-island"), NET)
    cli.run("up", "--detach", check=True)
    try:
        # The island has heard from the municipality once; then the uplink goes.
        wait_sync(cli, True)
        cli.run("uplink", "cut", "--mode", "blackhole", check=True)
        wait_sync(cli, False)
        yield cli
    finally:
        cli.run("uplink", "restore")
        assert cli.run("down").returncode == 0


def wait_sync(cli: IslandCLI, reachable: bool, within: float = 20.0) -> None:
    url = cli.status()["site"]["url"] + "api/crisis.json"
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if httpx.get(url, timeout=5).json()["sync"]["reachable"] is reachable:
            return
        time.sleep(0.2)
    raise AssertionError(f"the site's sync did not become reachable={reachable} within {within:g} s")


def resolve(status: dict, name: str) -> str:
    """Ask the island resolver, over DNS, from the resident's address."""
    resolver = status["resolver"]
    answer = dns.query.udp(dns.message.make_query(name, "A"), resolver["host"], port=resolver["port"], timeout=3,
                           source=f"{NET}.4.10")
    assert answer.rcode() == dns.rcode.NOERROR
    return next(rr.address for rrset in answer.answer for rr in rrset if rrset.rdtype == 1)


def _can_unshare_mounts() -> bool:
    if not shutil.which("unshare"):
        return False
    return subprocess.run(["unshare", "--mount", "true"], capture_output=True).returncode == 0


def chromium_launch(status: dict, folder: Path) -> tuple[str, list[str], str]:
    """(executable, extra args, how names are resolved)."""
    resolver = status["resolver"]
    if os.geteuid() == 0 and resolver["port"] == 53 and _can_unshare_mounts():
        resolv = folder / "resolv.conf"
        resolv.write_text(f"nameserver {resolver['host']}\noptions timeout:2 attempts:1\n", encoding="utf-8")
        wrapper = folder / "chromium-island-dns"
        wrapper.write_text(
            "#!/bin/sh\n"
            "# Chromium with the island resolver as its only DNS server, in a mount namespace of its own.\n"
            f"exec unshare --mount --propagation private sh -c 'mount --bind \"$0\" /etc/resolv.conf && "
            f"exec {CHROMIUM} \"$@\"' {resolv} \"$@\"\n",
            encoding="utf-8",
        )
        wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
        return str(wrapper), [], "real DNS: /etc/resolv.conf -> island resolver"
    address = resolve(status, status["crisis_name"])
    return CHROMIUM, [f"--host-resolver-rules=MAP {status['crisis_name']} {address}"], f"host-resolver-rules -> {address}"


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
    executable, extra, how = chromium_launch(status, tmp_path)
    print(f"name resolution: {how}")
    url = status["site"]["by_name"]  # http://krisinfo.kommun.example/ (with :8080 without root)
    OUTPUT.mkdir(exist_ok=True)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=[*FLAGS, *extra], headless=True,
                                    env={**os.environ, "HOME": str(tmp_path)})
        try:
            context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True,
                                          locale="sv-SE", bypass_csp=False)
            page = context.new_page()
            problems: list[str] = []
            hosts: set[str] = set()
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("request", lambda r: hosts.add(r.url.split("/")[2]))
            response = page.goto(url, wait_until="load", timeout=20_000)
            assert response is not None and response.status == 200
            assert page.locator("h1").inner_text() == "Krisinformation"
            assert page.evaluate("document.documentElement.lang") == "sv"
            assert page.title() == "Krisinformation – Sjöbacka kommun"
            assert "Omfattande el- och teleavbrott efter stormen" in page.content()  # synced before the cut
            notice = page.locator("#avbrott").inner_text()
            assert notice.startswith("Ingen kontakt med kommunens centrala webbplats just nu. Senast vi hörde")
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
            axe_page = browser.new_context(viewport=PHONE, bypass_csp=True).new_page()  # axe is a script; the page forbids scripts
            for target in (url, url + "?lang=ar", url + "?lang=sv-x-ll", url + "utskrift", url + "redaktion/logga-in",
                           url + "api"):
                axe_page.goto(target, wait_until="load")
                axe_page.add_script_tag(path=str(AXE))
                result = axe_page.evaluate(
                    "async () => await axe.run(document, {runOnly: {type: 'tag', values: "
                    "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})"
                )
                violations = [f"{v['id']}: {v['help']} ({len(v['nodes'])})" for v in result["violations"]]
                assert violations == [], f"{target}: {violations}"
                assert len(result["passes"]) > 10, "axe ran its rules"

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
