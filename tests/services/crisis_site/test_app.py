"""What a resident at a trygghetspunkt sees, via the ASGI app in-process."""

from __future__ import annotations

import gzip
import re

import httpx
import pytest
import yaml

from services.crisis_site import create_app
from services.crisis_site.app import DEMO_CONTENT


@pytest.fixture
def demo() -> dict:
    return yaml.safe_load(DEMO_CONTENT.read_text(encoding="utf-8"))


@pytest.fixture
async def client():
    transport = httpx.ASGITransport(app=create_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


async def test_page_shows_what_a_resident_needs(client: httpx.AsyncClient, demo: dict) -> None:
    r = await client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    html = r.text
    assert '<html lang="sv">' in html
    assert re.search(r"<h1>[^<]*Krisinformation[^<]*</h1>", html)
    assert "<title>Krisinformation – Sjöbacka kommun</title>" in html
    assert "Sjöbacka kommun" in html
    assert "Senast uppdaterad" in html
    assert "tisdag 14 januari 2025 kl. 08.00" in html
    assert f"av {demo['sender']}" in html
    assert demo["situation"]["headline"] in html
    for instruction in demo["instructions"]:
        assert instruction in html
    assert len(demo["trygghetspunkter"]) == 3
    for point in demo["trygghetspunkter"]:
        assert point["name"] in html
        assert point["address"] in html
        assert point["opening_hours"] in html
    # Services are spelled out in words, including what is missing.
    assert "Telefon för att ringa 112: finns inte här" in html
    assert "Dricksvatten: finns" in html
    for advice in ("112", "113 13", "P4"):
        assert advice in html


async def test_page_is_lite_and_self_contained(client: httpx.AsyncClient) -> None:
    r = await client.get("/")
    html = r.text
    assert "<script" not in html.lower()
    assert "http://" not in html and "https://" not in html
    assert "<link" not in html.lower()  # no external stylesheet or font
    assert "@font-face" not in html and "@import" not in html
    assert '<meta name="viewport"' in html
    assert len(gzip.compress(r.content)) < 14 * 1024
    assert r.headers["cache-control"] == "no-cache"


async def test_head_on_page(client: httpx.AsyncClient) -> None:
    r = await client.head("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize("path", ["/", "/api/crisis.json", "/healthz", "/no-such-page"])
async def test_security_headers_on_every_response(client: httpx.AsyncClient, path: str) -> None:
    r = await client.get(path)
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    csp = r.headers["content-security-policy"]
    for directive in (
        "default-src 'none'",
        "img-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ):
        assert directive in csp
    assert "script-src" not in csp


async def test_csp_hash_matches_inline_style(client: httpx.AsyncClient) -> None:
    import base64
    import hashlib

    r = await client.get("/")
    style = re.search(r"<style>(.*?)</style>", r.text, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in r.headers["content-security-policy"]


async def test_json_matches_demo_yaml(client: httpx.AsyncClient, demo: dict) -> None:
    r = await client.get("/api/crisis.json")
    assert r.status_code == 200
    data = r.json()
    for key in ("municipality", "sender", "updated", "situation", "instructions", "trygghetspunkter", "advice"):
        assert key in data
    assert data["municipality"] == demo["municipality"]
    assert data["sender"] == demo["sender"]
    assert data["updated"] == "2025-01-14T08:00:00+01:00"
    assert data["situation"]["headline"] == demo["situation"]["headline"]
    assert data["instructions"] == demo["instructions"]
    assert data["trygghetspunkter"] == demo["trygghetspunkter"]
    assert data["advice"]["emergency_number"] == "112"
    assert data["advice"]["information_number"] == "113 13"
    assert "P4" in data["advice"]["radio"]


async def test_healthz(client: httpx.AsyncClient) -> None:
    r = await client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "service": "crisis-site"}


async def test_openapi_kept_docs_ui_off(client: httpx.AsyncClient) -> None:
    assert (await client.get("/openapi.json")).status_code == 200
    # The docs UIs load JavaScript from a CDN, which the island cannot reach.
    assert (await client.get("/docs")).status_code == 404
    assert (await client.get("/redoc")).status_code == 404


async def test_custom_content_file(tmp_path, demo: dict) -> None:
    demo["municipality"] = "Testby kommun"
    del demo["advice"]  # standing advice falls back to the defaults
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(demo, allow_unicode=True), encoding="utf-8")
    transport = httpx.ASGITransport(app=create_app(path))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        html = (await c.get("/")).text
        data = (await c.get("/api/crisis.json")).json()
    assert "<title>Krisinformation – Testby kommun</title>" in html
    assert data["advice"]["information_number"] == "113 13"


async def test_content_is_html_escaped(tmp_path, demo: dict) -> None:
    demo["situation"]["headline"] = "<script>alert(1)</script>"
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(demo, allow_unicode=True), encoding="utf-8")
    transport = httpx.ASGITransport(app=create_app(path))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        html = (await c.get("/")).text
    assert "<script" not in html
    assert "&lt;script&gt;" in html
