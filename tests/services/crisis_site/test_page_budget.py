"""The crisis page stays within the first round trip however many messages are active.

Measured as a phone receives it: the gzip bytes on the wire. The rest of the messages are
one plain link away, on pages of the same budget, and complete in the feeds.
"""

from __future__ import annotations

import gzip
import re
from html import unescape

import httpx
import pytest
from site_helpers import app_with, client_for

from bench.scale.page import WORDS, seed
from services.crisis_site import create_app
from services.crisis_site.accounts import add_editor
from services.crisis_site.paging import PAGE_BUDGET


def seed_with(tmp_path, count: int) -> str:
    """The bench's seed of `count` messages, the Severe one in the middle, headlines numbered."""

    def headline(i: int, rnd) -> str:
        return f"Rubrik nummer {i}: {rnd.choice(WORDS)} {rnd.choice(WORDS)}"

    return str(seed(count, tmp_path, severe_at=count // 2, headline=headline))


async def gzip_get(client: httpx.AsyncClient, url: str) -> tuple[int, str]:
    """(gzip bytes received, the page's text)."""
    async with client.stream("GET", url, headers={"accept-encoding": "gzip"}) as r:
        assert r.status_code == 200 and r.headers["content-encoding"] == "gzip"
        raw = b"".join([chunk async for chunk in r.aiter_raw()])
    return len(raw), gzip.decompress(raw).decode("utf-8")


async def read_every_page(client: httpx.AsyncClient, lang: str) -> list[tuple[int, str]]:
    """Page 1, then each rel=next link in turn, as a resident would follow them."""
    pages = [await gzip_get(client, f"/?lang={lang}")]
    while True:
        found = re.search(r'<a href="([^"]+)" rel="next">', pages[-1][1])
        if found is None:
            return pages
        pages.append(await gzip_get(client, unescape(found.group(1))))
        assert len(pages) < 100


def headlines(html: str) -> list[str]:
    return re.findall(r"<h2>(Rubrik nummer \d+:[^<]*)</h2>", html)


@pytest.mark.parametrize("count", [1, 10, 50, 200, 1000])
async def test_every_page_fits_the_first_round_trip_and_together_they_show_every_message(
    tmp_path, count: int
) -> None:
    async with client_for(create_app(seed_with(tmp_path, count))) as client:
        pages = await read_every_page(client, "sv")
        feed = (await client.get("/api/crisis.json")).json()
    for size, _ in pages:
        assert size <= PAGE_BUDGET
    shown = [h for _, html in pages for h in headlines(html)]
    assert len(shown) == len(set(shown)) == count  # each message once, none lost between pages
    assert len(feed["messages"]) == count  # the feed is complete
    first = pages[0][1]
    # What a resident needs first is on the first page whatever the count.
    assert "Viktigt meddelande till allmänheten" in first
    assert first.index('<article class="msg vma">') == first.index("<article")
    assert 'id="trygghetspunkter"' in first and 'href="tel:112"' in first
    if count >= 200:
        assert len(pages) > 1 and 'id="trygghetspunkter"' not in pages[1][1]
        assert "Meddelande 1–" in first


@pytest.mark.parametrize("lang", ["sv", "sv-x-ll", "en", "fi", "ar", "so"])
async def test_the_pages_and_their_links_work_in_every_language(tmp_path, lang: str) -> None:
    async with client_for(create_app(seed_with(tmp_path, 200))) as client:
        pages = await read_every_page(client, lang)
    assert len(pages) > 1
    assert sum(len(headlines(html)) for _, html in pages) == 200
    for size, html in pages:
        assert size <= PAGE_BUDGET
        assert f'<html lang="{lang}"' in html
        assert "<script" not in html.lower()
    assert 'rel="prev"' in pages[1][1] and f'href="/?lang={lang}"' in pages[1][1]


async def test_newest_first_within_a_severity_and_an_old_page_link_still_lands(tmp_path) -> None:
    async with client_for(create_app(seed_with(tmp_path, 200))) as client:
        _, first = await gzip_get(client, "/")
        _, beyond = await gzip_get(client, "/?sida=999")
        _, junk = await gzip_get(client, "/?sida=x")
    numbers = [int(re.search(r"\d+", h).group()) for h in headlines(first)]
    assert numbers[0] == 100  # the Severe one, then the rest newest first within their severity
    assert junk == first
    assert headlines(beyond) and 'rel="next"' not in beyond  # the last page


async def test_the_editors_see_how_close_the_page_is_to_its_budget(tmp_path) -> None:
    app = app_with(tmp_path, seed=seed_with(tmp_path, 200))
    add_editor(app.state.site.store, "anna", "korrekt häst batteri")
    async with client_for(app) as client:
        form = await client.get("/redaktion/logga-in")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
        await client.post(
            "/redaktion/logga-in",
            data={"csrf": token, "username": "anna", "password": "korrekt häst batteri"},
        )
        dashboard = (await client.get("/redaktion")).text
        first, _ = await gzip_get(client, "/?lang=en")
    rows = re.findall(
        r"<tr><td>([^<]+)</td><td>([\d ]+) av ([\d ]+) byte</td><td[^>]*>(\d+) %</td><td>(\d+)</td></tr>",
        dashboard,
    )
    assert [row[0] for row in rows] == [
        "Svenska",
        "Lättläst svenska",
        "English",
        "Suomi",
        "العربية",
        "Soomaali",
    ]
    english = rows[2]
    assert int(english[1].replace(" ", "")) == first  # the bytes a phone gets, as served
    assert int(english[2].replace(" ", "")) == PAGE_BUDGET and int(english[4]) >= 2
    assert 90 <= int(english[3]) <= 100
