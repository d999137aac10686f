"""The browser evidence for HTTPS by the usual name: Debian's Chromium, trusting only the simulated public
CA, learns the municipality's HSTS policy while the uplink is up; with the uplink cut, the crisis name typed
as http:// is upgraded by the browser itself and the island's crisis page opens with no certificate error.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_test_helpers import OUTPUT, PHONE, ROOT, chromium_reason, launch_chromium, wait_sync
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from island_test_helpers import IslandCLI, island_cli, island_net
from tiers import pebble_reason, require_tier

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

NET = island_net(101)  # far from the other test islands (see test_https_e2e.py)
NEEDS_ROOT = "needs root: HSTS upgrades http:// to https:// on the same port, so HTTPS must be on 443"


def reason() -> str | None:
    return chromium_reason() or (None if os.geteuid() == 0 else NEEDS_ROOT)


@pytest.fixture(scope="module")
def island(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IslandCLI]:
    require_tier("browser", reason())
    require_tier("https", pebble_reason())
    cli = island_cli(tmp_path_factory.mktemp("https-browser"), NET)
    cli.run("up", "--detach", check=True)
    try:
        wait_sync(cli, True)
        yield cli
    finally:
        cli.run("uplink", "restore")
        assert cli.run("down").returncode == 0


def spki_hashes(ca_file: str, chain: Path) -> str:
    """Chromium's --ignore-certificate-errors-spki-list: the public CA, by its keys' SHA-256.

    Chromium matches the list against the chain a server presents, which ends at the CA's intermediate
    (a root is never sent): so the public CA's roots and its issuing intermediate, taken from a chain it issued.
    """
    roots = x509.load_pem_x509_certificates(Path(ca_file).read_bytes())
    roots += x509.load_pem_x509_certificates(chain.read_bytes())[1:]
    der = [
        r.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        for r in roots
    ]
    return ",".join(base64.b64encode(hashlib.sha256(d).digest()).decode() for d in der)


def test_a_browser_that_knows_the_municipalitys_hsts_opens_the_crisis_name_over_https_while_cut(
    island: IslandCLI, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    status = island.status()
    assert status["site"]["https_url"] == "https://krisinfo.kommun.example/"
    OUTPUT.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = launch_chromium(
            p,
            status,
            tmp_path,
            NET,
            [
                f"--ignore-certificate-errors-spki-list={spki_hashes(status['tls']['ca_file'], Path(status['tls']['certificate_file']))}"
            ],
        )
        try:
            context = browser.new_context(
                viewport=PHONE, device_scale_factor=2, is_mobile=True, locale="sv-SE"
            )
            page = context.new_page()
            # Connected: the resident has visited the municipality's site; Chromium learns its HSTS policy.
            visit = page.goto("https://kommun.example/", wait_until="load", timeout=20_000)
            assert visit is not None and visit.status == 200
            assert visit.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"

            island.run("uplink", "cut", "--mode", "blackhole", check=True)
            wait_sync(island, False)
            # Cut: the crisis name typed as http://. Chromium upgrades it itself (HSTS, includeSubDomains).
            requested: list[str] = []
            page.on("request", lambda r: requested.append(r.url))
            response = page.goto("http://krisinfo.kommun.example/", wait_until="load", timeout=20_000)
            assert response is not None and response.status == 200
            assert page.url == "https://krisinfo.kommun.example/"
            assert requested[0] == "http://krisinfo.kommun.example/"
            # The upgrade is the HSTS policy's (Chromium's internal redirect says so), not a fallback.
            typed = response.request.redirected_from
            assert typed is not None and typed.url == "http://krisinfo.kommun.example/"
            upgrade = typed.response()
            assert upgrade is not None and upgrade.status == 307
            assert upgrade.headers.get("non-authoritative-reason") == "HSTS", upgrade.headers
            security = response.security_details()
            assert security is not None and security["issuer"].startswith("Pebble Intermediate CA")
            assert security["subjectName"] == "krisinfo.kommun.example"
            assert page.locator("h1").inner_text() == "Krisinformation"
            assert (
                page.locator("#avbrott")
                .inner_text()
                .startswith("Ingen kontakt med kommunens centrala webbplats")
            )
            screenshot = OUTPUT / "crisis-page-https-hsts-cut.png"
            page.screenshot(path=str(screenshot), full_page=False)
            assert screenshot.stat().st_size > 10_000
            if os.environ.get("ISLAND_UPDATE_DOCS") == "1":
                shutil.copyfile(screenshot, ROOT / "docs" / "crisis-page-https-hsts-cut.png")
        finally:
            browser.close()
