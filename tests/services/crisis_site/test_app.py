"""What a resident at a trygghetspunkt sees, via the ASGI app in-process."""

from __future__ import annotations

import base64
import gzip
import hashlib
import re

import httpx
import pytest
import yaml
from site_helpers import app_with, client_for, demo

from services.crisis_site import create_app

PAGES = [
    "/",
    "/?lang=sv-x-ll",
    "/?lang=en",
    "/?lang=fi",
    "/?lang=ar",
    "/?lang=so",
    "/utskrift",
    "/redaktion/logga-in",
    "/api",
]


@pytest.fixture
async def client():
    async with client_for(create_app()) as c:
        yield c


async def test_page_shows_what_a_resident_needs(client: httpx.AsyncClient) -> None:
    data = demo()
    r = await client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    html = r.text
    assert '<html lang="sv">' in html
    assert re.search(r"<h1>[^<]*Krisinformation[^<]*</h1>", html)
    assert "<title>Krisinformation – Sjöbacka kommun</title>" in html
    assert "Senast uppdaterad tisdag 14 januari 2025 kl. 08.00 av Sjöbacka kommun, krisledningen." in html
    first = data["messages"][0]["info"][0]
    assert first["headline"] in html
    assert first["description"] in html
    for line in first["instruction"].strip().splitlines():
        assert f"<li>{line}</li>" in html
    assert data["messages"][1]["info"][0]["headline"] in html
    for action in data["actions"]:
        assert action in html
    assert len(data["trygghetspunkter"]) == 3
    for point in data["trygghetspunkter"]:
        assert point["name"] in html and point["address"] in html and point["opening_hours"] in html
    # Services are spelled out in words, including what is missing.
    assert "Telefon för att ringa 112: finns inte här" in html
    assert "Dricksvatten: finns" in html
    for advice in ('href="tel:112"', 'href="tel:11313"', "Sveriges Radio P4"):
        assert advice in html


async def test_vma_banner_is_the_most_severe_active_message(client: httpx.AsyncClient) -> None:
    html = (await client.get("/")).text
    banner = re.search(r'<article class="msg vma">(.*?)</article>', html, re.S)
    assert banner, "the Severe message gets the VMA banner"
    assert "Viktigt meddelande till allmänheten" in banner.group(1)
    assert "Långvarigt strömavbrott" in banner.group(1)
    assert html.count("Viktigt meddelande till allmänheten") == 1
    # Most severe first: the banner comes before the Moderate message.
    assert html.index("Långvarigt strömavbrott") < html.index("Kokningsrekommendation")


@pytest.mark.parametrize("path", PAGES)
async def test_every_page_is_lite_and_self_contained(client: httpx.AsyncClient, path: str) -> None:
    r = await client.get(path)
    assert r.status_code == 200
    html = r.text
    assert "<script" not in html.lower()  # no JavaScript at all
    assert not re.search(r"\son[a-z]+=", html), "no inline event handlers"
    assert "http://" not in html and "https://" not in html
    # Every link and form target stays on the island: a path, an anchor or a phone number.
    targets = re.findall(r'(?:href|src|action)="([^"]*)"', html)
    assert targets and all(t.startswith(("/", "#", "tel:")) and not t.startswith("//") for t in targets)
    assert "<link" not in html.lower() and "<img" not in html.lower()  # no external stylesheet, font or image
    assert "@font-face" not in html and "@import" not in html and "url(" not in html
    assert '<meta name="viewport"' in html
    # The first page, CSS included, fits in one round trip (~14 KB compressed).
    assert len(gzip.compress(r.content)) <= 14 * 1024


async def test_gzip_etag_and_304(client: httpx.AsyncClient) -> None:
    r = await client.get("/", headers={"Accept-Encoding": "gzip"})
    assert r.headers["content-encoding"] == "gzip"
    assert int(r.headers["content-length"]) < len(r.content)  # httpx decoded the smaller gzip body
    assert r.headers["cache-control"] == "no-cache"
    assert "Accept-Language" in r.headers["vary"] and "Accept-Encoding" in r.headers["vary"]
    etag = r.headers["etag"]
    again = await client.get("/", headers={"If-None-Match": etag, "Accept-Encoding": "gzip"})
    assert again.status_code == 304 and again.content == b""
    plain = await client.get("/", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.headers["etag"] != etag
    # Either representation's tag proves the content unchanged.
    assert (await client.get("/", headers={"If-None-Match": plain.headers["etag"]})).status_code == 304
    assert (await client.get("/", headers={"If-None-Match": '"stale"'})).status_code == 200


async def test_head_on_page(client: httpx.AsyncClient) -> None:
    r = await client.head("/")
    assert r.status_code == 200 and r.content == b""
    assert r.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(
    "path", ["/", "/api/crisis.json", "/feeds/cap.xml", "/healthz", "/no-such-page", "/redaktion/logga-in"]
)
async def test_security_headers_on_every_response(client: httpx.AsyncClient, path: str) -> None:
    r = await client.get(path)
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "same-origin"
    csp = r.headers["content-security-policy"]
    for directive in (
        "default-src 'none'",
        "img-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ):
        assert directive in csp
    assert "script-src" not in csp and "unsafe-inline" not in csp


async def test_csp_hash_matches_inline_style(client: httpx.AsyncClient) -> None:
    for path in ("/", "/redaktion/logga-in"):
        r = await client.get(path)
        style = re.search(r"<style>(.*?)</style>", r.text, re.S).group(1)
        digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
        assert f"style-src 'sha256-{digest}'" in r.headers["content-security-policy"]


async def test_json_is_the_page_content(client: httpx.AsyncClient) -> None:
    data = demo()
    r = await client.get("/api/crisis.json")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    body = r.json()
    assert body["municipality"] == data["municipality"]
    assert body["updated"] == "2025-01-14T08:00:00+01:00"
    assert [m["identifier"] for m in body["messages"]] == ["sjobacka-2025-0001", "sjobacka-2025-0002"]
    first = body["messages"][0]
    assert (first["msgType"], first["severity"], first["urgency"], first["certainty"]) == (
        "Alert",
        "Severe",
        "Immediate",
        "Observed",
    )
    assert [i["language"] for i in first["info"]] == ["sv", "en"]
    assert body["trygghetspunkter"] == data["trygghetspunkter"]
    assert body["advice"] == {
        "emergency_number": "112",
        "information_number": "113 13",
        "radio": "Sveriges Radio P4",
    }
    assert body["sync"] == {"feed": None, "last_heard": None, "reachable": None, "last_error": None}


async def test_openapi_documents_the_feeds_and_keeps_docs_ui_off(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    for path in ("/api/crisis.json", "/feeds/atom.xml", "/feeds/cap.xml"):
        assert path in spec["paths"]
    assert "Content" in spec["components"]["schemas"] and "Message" in spec["components"]["schemas"]
    page = (await client.get("/api")).text
    for path in ("GET /api/crisis.json", "GET /feeds/atom.xml", "GET /feeds/cap.xml"):
        assert f"<code>{path}</code>" in page
    assert "<code>trygghetspunkter</code>" in page and "<code>messages</code>" in page
    # The docs UIs load JavaScript from a CDN, which the island cannot reach.
    assert (await client.get("/docs")).status_code == 404
    assert (await client.get("/redoc")).status_code == 404


async def test_fast_path_and_framework_serve_the_same_bytes(tmp_path) -> None:
    async with client_for(app_with(fast_path=True)) as fast, client_for(app_with(fast_path=False)) as slow:
        for path in ("/", "/?lang=ar", "/api/crisis.json", "/feeds/atom.xml", "/feeds/cap.xml", "/utskrift"):
            a, b = await fast.get(path), await slow.get(path)
            assert a.status_code == b.status_code == 200
            assert a.content == b.content, path
            for header in ("etag", "content-type", "content-security-policy", "vary", "cache-control"):
                assert a.headers.get(header) == b.headers.get(header), (path, header)


async def test_print_view_for_the_notice_board(client: httpx.AsyncClient) -> None:
    html = (await client.get("/utskrift")).text
    assert 'class="print"' in html
    assert "<nav" not in html  # no language menu on paper
    assert "Trygghetspunkter" in html and "113 13" in html


async def test_healthz(client: httpx.AsyncClient) -> None:
    r = await client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "service": "crisis-site"}


async def test_content_is_html_escaped(tmp_path) -> None:
    data = demo()
    data["messages"][0]["info"][0]["headline"] = "<script>alert(1)</script>"
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    async with client_for(create_app(path)) as c:
        html = (await c.get("/")).text
    assert "<script" not in html
    assert "&lt;script&gt;" in html


async def test_expired_and_future_messages_are_not_shown(tmp_path) -> None:
    data = demo()
    data["messages"][0]["expires"] = "2025-01-15T00:00:00+01:00"
    data["messages"][1]["effective"] = "2999-01-01T00:00:00+01:00"
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    async with client_for(create_app(path)) as c:
        html = (await c.get("/")).text
    assert "Långvarigt strömavbrott" not in html and "Kokningsrekommendation" not in html
    assert "Just nu finns inga meddelanden." in html
    assert "Viktigt meddelande till allmänheten" not in html


async def test_an_exercise_is_labelled_and_never_gets_the_vma_banner(tmp_path) -> None:
    data = demo()
    data["messages"][0]["status"] = "Exercise"
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    async with client_for(create_app(path)) as c:
        sv = (await c.get("/")).text
        en = (await c.get("/?lang=en")).text
    assert '<p class="exercise" lang="sv">Övning</p>' in sv
    assert '<p class="exercise" lang="en">Exercise</p>' in en
    assert "Viktigt meddelande till allmänheten" not in sv
