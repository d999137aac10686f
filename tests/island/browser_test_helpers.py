"""Shared by the browser-tier tests: Debian's Chromium driven by Playwright, on a test island whose
uplink is cut, with axe-core for the automated accessibility checks.

Name resolution: as root (CI) the island resolver listens on port 53, and Chromium runs in a
mount namespace of its own whose /etc/resolv.conf names only the island resolver: a real DNS
path, the resolver's answer is what the browser uses. Without root the resolver is on port
5353, which no stub resolver can use; then the test asks the island resolver over DNS itself
and hands the answer to Chromium with --host-resolver-rules.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dns.message
import dns.query
import dns.rcode
import httpx
from island_test_helpers import IslandCLI, island_cli
from tiers import require_tier

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
AXE = ROOT / "build" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
OUTPUT = ROOT / "test-output"
PHONE = {"width": 360, "height": 640}
# As the machines' notes say: without the background-networking flags Chromium keeps trying the internet.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WCAG_A_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]

MISSING_AXE = f"axe-core is missing at {AXE} (npm install --prefix build/axe axe-core@4)"


def chromium_reason() -> str | None:
    """Why Chromium cannot be driven here (no Chromium, no Playwright); None when it can."""
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is missing (pip install -e '.[test]')"
    return None


def browser_reason() -> str | None:
    """Chromium, and axe-core for the accessibility checks."""
    return chromium_reason() or (None if AXE.exists() else MISSING_AXE)


@contextmanager
def cut_island(folder: Path, net: str) -> Iterator[IslandCLI]:
    """A test island that has heard from the municipality once and then lost its uplink."""
    require_tier("browser", browser_reason())
    cli = island_cli(folder, net)
    cli.run("up", "--detach", check=True)
    try:
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


def resolve(status: dict, name: str, net: str) -> str:
    """Ask the island resolver, over DNS, from the resident's address."""
    resolver = status["resolver"]
    answer = dns.query.udp(
        dns.message.make_query(name, "A"),
        resolver["host"],
        port=resolver["port"],
        timeout=3,
        source=f"{net}.4.10",
    )
    assert answer.rcode() == dns.rcode.NOERROR
    return next(rr.address for rrset in answer.answer for rr in rrset if rrset.rdtype == 1)


def _can_unshare_mounts() -> bool:
    if not shutil.which("unshare"):
        return False
    return subprocess.run(["unshare", "--mount", "true"], capture_output=True).returncode == 0


def chromium_launch(status: dict, folder: Path, net: str) -> tuple[str, list[str], str]:
    """(executable, extra args, how names are resolved)."""
    resolver = status["resolver"]
    if os.geteuid() == 0 and resolver["port"] == 53 and _can_unshare_mounts():
        resolv = folder / "resolv.conf"
        resolv.write_text(f"nameserver {resolver['host']}\noptions timeout:2 attempts:1\n", encoding="utf-8")
        wrapper = folder / "chromium-island-dns"
        wrapper.write_text(
            "#!/bin/sh\n"
            "# Chromium with the island resolver as its only DNS server, in a mount namespace of its own.\n"
            f'exec unshare --mount --propagation private sh -c \'mount --bind "$0" /etc/resolv.conf && '
            f'exec {CHROMIUM} "$@"\' {resolv} "$@"\n',
            encoding="utf-8",
        )
        wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
        return str(wrapper), [], "real DNS: /etc/resolv.conf -> island resolver"
    address = resolve(status, status["crisis_name"], net)
    return (
        CHROMIUM,
        [f"--host-resolver-rules=MAP {status['crisis_name']} {address}"],
        f"host-resolver-rules -> {address}",
    )


def launch_chromium(playwright: Any, status: dict, folder: Path, net: str, more: list[str] = ()) -> Any:
    executable, extra, how = chromium_launch(status, folder, net)
    print(f"name resolution: {how}")
    return playwright.chromium.launch(
        executable_path=executable,
        args=[*FLAGS, *extra, *more],
        headless=True,
        env={**os.environ, "HOME": str(folder)},
    )


def axe_violations(page: Any) -> list[str]:
    """axe-core's WCAG 2.0/2.1 A and AA rules run in the page as it is now (its context must allow scripts)."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_A_AA
    )
    assert len(result["passes"]) > 10, "axe ran its rules"
    return [f"{v['id']}: {v['help']} ({len(v['nodes'])})" for v in result["violations"]]
