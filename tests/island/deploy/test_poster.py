"""`island deploy poster`: an A4 poster per trygghetspunkt whose QR code a phone can read."""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from tiers import require_tier

from island.deploy.poster import crisis_url, write_posters
from island.deploy.site import load_site

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "island.site.yaml"
SVG = "{http://www.w3.org/2000/svg}"


def test_one_a4_poster_per_trygghetspunkt_with_the_wifi_and_the_name(tmp_path: Path) -> None:
    site = load_site(EXAMPLE)
    paths = write_posters(site, tmp_path)
    assert [p.name for p in paths] == ["poster-biblioteket.svg", "poster-norrbyskolan.svg"]
    root = ET.parse(paths[0]).getroot()
    assert (root.get("width"), root.get("height")) == ("210mm", "297mm")
    texts = [t.text or "" for t in root.iter(f"{SVG}text")]
    assert "Krisinfo-Sjobacka" in texts and "krisinfo.kommun.example" in texts
    assert any("Stadsbiblioteket" in t for t in texts)
    # Swedish first, then one line in each of the page's other languages; Arabic right to left.
    languages = [t.get("{http://www.w3.org/XML/1998/namespace}lang") for t in root.iter(f"{SVG}text")]
    assert languages[0] == "sv" and {"en", "fi", "ar", "so", "sv-x-lattlast"} <= set(languages)
    arabic = next(
        t for t in root.iter(f"{SVG}text") if t.get("{http://www.w3.org/XML/1998/namespace}lang") == "ar"
    )
    assert arabic.get("direction") == "rtl"
    assert root.find(f"{SVG}path") is not None  # the QR code


def test_rendering_twice_gives_the_same_bytes(tmp_path: Path) -> None:
    site = load_site(EXAMPLE)
    first = [p.read_bytes() for p in write_posters(site, tmp_path / "a")]
    assert first == [p.read_bytes() for p in write_posters(site, tmp_path / "b")]


@pytest.mark.browser
def test_a_phone_camera_reads_the_crisis_address_from_the_printed_poster(tmp_path: Path) -> None:
    """Chromium draws the poster as a printer would; zbarimg (a real QR reader) reads the code."""
    from browser_test_helpers import CHROMIUM, FLAGS, browser_reason

    zbarimg = shutil.which("zbarimg")
    require_tier(
        "browser",
        browser_reason() or (None if zbarimg else "zbarimg is missing (apt-get install zbar-tools)"),
    )
    from playwright.sync_api import sync_playwright

    site = load_site(EXAMPLE)
    poster = write_posters(site, tmp_path)[0]
    png = tmp_path / "poster.png"
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=CHROMIUM,
            args=FLAGS,
            viewport={"width": 794, "height": 1123},  # A4 at 96 dpi
        )
        try:
            page = context.new_page()
            page.goto(poster.as_uri())
            page.screenshot(path=str(png))
        finally:
            context.close()
    assert zbarimg is not None
    read = subprocess.run([zbarimg, "--quiet", "--raw", str(png)], capture_output=True, text=True, timeout=60)
    assert read.returncode == 0, read.stderr
    assert read.stdout.strip() == crisis_url(site) == "https://krisinfo.kommun.example/"
