"""The simulated internet's web hosts, told apart by the Host header (in-process, one piece)."""

from __future__ import annotations

import httpx
import pytest

from services.upstream.web import create_app


@pytest.fixture
async def web():
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app()), base_url="http://x"
    ) as client:
        yield client


@pytest.mark.parametrize(
    ("host", "path", "status", "body"),
    [
        ("connectivitycheck.gstatic.com", "/generate_204", 204, ""),
        ("captive.apple.com", "/hotspot-detect.html", 200, "Success"),
        ("www.msftconnecttest.com", "/connecttest.txt", 200, "Microsoft Connect Test"),
        ("detectportal.firefox.com", "/success.txt", 200, "success"),
    ],
)
async def test_phones_connectivity_checks_answer_like_the_real_hosts(web, host, path, status, body) -> None:
    response = await web.get(path, headers={"Host": host})
    assert response.status_code == status
    assert body in response.text


async def test_the_municipality_feed(web) -> None:
    response = await web.get("/api/feed.json", headers={"Host": "www.kommun.example"})
    assert response.status_code == 200
    messages = response.json()
    assert messages[0]["Headline"] == "Omfattande el- och teleavbrott efter stormen"
    assert response.headers["etag"]
    again = await web.get(
        "/api/feed.json", headers={"Host": "www.kommun.example", "If-None-Match": response.headers["etag"]}
    )
    assert again.status_code == 304


async def test_unknown_host_is_not_found(web) -> None:
    response = await web.get("/generate_204", headers={"Host": "nowhere.example"})
    assert response.status_code == 404
