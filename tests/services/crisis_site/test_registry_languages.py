"""The registry in every language the site has: no Swedish fallback, right to left for Arabic,
and preset messages stored by key so each reader sees them in their own language."""

from __future__ import annotations

import json
import re
import sqlite3
import string

import httpx
import pytest
from site_helpers import app_with, client_for

from services.crisis_site import i18n
from services.crisis_site.registry import PRESETS
from services.crisis_site.registry_texts import PHONE_EXAMPLE, TEXTS

PAGES = ("/anhoriga", "/anhoriga/registrera", "/anhoriga/sok", "/anhoriga/andra")
FOREIGN = ("en", "fi", "ar", "so")


@pytest.fixture
async def site(tmp_path):
    async with client_for(app_with(tmp_path)) as c:
        yield c


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def test_every_language_has_every_registry_text_with_the_same_placeholders() -> None:
    # A new text added in Swedish only fails here, in every language at once.
    assert set(TEXTS) == set(i18n.LANGUAGES)
    swedish = TEXTS[i18n.DEFAULT]
    assert set(PRESETS) <= set(swedish)
    for tag, texts in TEXTS.items():
        assert set(texts) == set(swedish), (
            f"{tag}: missing {set(swedish) - set(texts)}, extra {set(texts) - set(swedish)}"
        )
        for key, text in texts.items():
            assert text.strip(), (tag, key)
            assert fields(text) == fields(swedish[key]), (tag, key, text)


def test_the_crisis_pages_link_to_the_registry_is_in_every_language() -> None:
    for tag in i18n.LANGUAGES:
        for key in ("registry", "registry_link"):
            assert key in i18n.TEXTS[tag], (tag, key)


def visible(html: str) -> str:
    """The text a reader sees (the style block and the tags out)."""
    return re.sub(r"<[^>]+>", " ", re.sub(r"<style>.*?</style>", "", html, flags=re.S))


@pytest.mark.parametrize("tag", FOREIGN)
async def test_registry_pages_in_each_language_show_no_swedish_text(
    site: httpx.AsyncClient, tag: str
) -> None:
    swedish = [t for t in TEXTS["sv"].values() if len(t) > 12 and "{" not in t]
    swedish += [i18n.TEXTS["sv"]["languages"], i18n.TEXTS["sv"]["skip"]]
    for path in PAGES:
        r = await site.get(f"{path}?lang={tag}")
        assert r.status_code == 200
        rtl = ' dir="rtl"' if i18n.LANGUAGES[tag].rtl else ""
        assert f'<html lang="{tag}"{rtl}>' in r.text, path
        assert f"<h1>{TEXTS[tag]['title']}</h1>" in r.text
        assert f'<nav aria-label="{i18n.TEXTS[tag]["languages"]}">' in r.text
        seen = visible(r.text)
        leaked = [t for t in swedish if t in seen]
        assert leaked == [], f"{path}?lang={tag}: {leaked}"
    # The form keeps its language when posted, and the errors come back in it.
    bad = await site.post("/anhoriga/registrera", data={"name": "", "identifier": "", "lang": tag})
    assert bad.status_code == 400 and f'<html lang="{tag}"' in bad.text
    for key in ("fix", "err_empty", "err_no_preset"):
        assert TEXTS[tag][key] in bad.text, key


async def test_easy_swedish_is_its_own_text_not_the_swedish_one(site: httpx.AsyncClient) -> None:
    r = await site.get("/anhoriga/registrera?lang=sv-x-ll")
    assert '<html lang="sv-x-ll">' in r.text
    assert "Skriv att du är OK" in r.text and "Jag är OK. Jag mår bra." in r.text
    assert "Meddela att du är OK" not in r.text and "Fullständigt namn" not in r.text


async def test_a_person_registering_in_arabic_is_read_in_each_readers_language(tmp_path) -> None:
    async with client_for(app_with(tmp_path)) as c:
        r = await c.post(
            "/anhoriga/registrera",
            data={
                "name": "Fatima Al-Sayed",
                "identifier": "0731234567",
                "presets": ["safe", "will_contact"],
                "text": "كلنا بخير",
                "lang": "ar",
            },
        )
        assert (
            r.status_code == 200
            and TEXTS["ar"]["registered"] in r.text
            and '<html lang="ar" dir="rtl">' in r.text
        )
        by_language = {
            tag: (
                await c.post(
                    "/anhoriga/sok",
                    data={"name": "fatima al sayed", "identifier": "073-123 45 67", "lang": tag},
                )
            ).text
            for tag in i18n.LANGUAGES
        }
    for tag, html in by_language.items():
        assert TEXTS[tag]["safe"] in html and TEXTS[tag]["will_contact"] in html, tag
        others = [TEXTS[o]["safe"] for o in i18n.LANGUAGES if TEXTS[o]["safe"] != TEXTS[tag]["safe"]]
        assert not [o for o in others if o in html], tag
        assert "كلنا بخير" in html  # the person's own words stay as written
    # Stored by key, not as the words the person read.
    with sqlite3.connect(tmp_path / "site.sqlite3") as db:
        stored = [json.loads(p) for (p,) in db.execute("SELECT presets FROM registry_updates")]
    assert stored == [["safe", "will_contact"]]


async def test_arabic_times_and_codes_read_left_to_right(site: httpx.AsyncClient) -> None:
    r = await site.post(
        "/anhoriga/registrera",
        data={"name": "Omar", "identifier": "0701112233", "presets": "safe", "lang": "ar"},
    )
    assert '<strong class="num" dir="ltr" id="kod">' in r.text
    found = await site.post("/anhoriga/sok", data={"name": "Omar", "identifier": "0701112233", "lang": "ar"})
    assert re.search(r'<time dir="ltr">\d{4}-\d\d-\d\d \d\d:\d\d</time>', found.text)
    # The phone number example is isolated, so its digit groups keep their order in right-to-left text.
    assert f"\u2066{PHONE_EXAMPLE}\u2069" in (await site.get("/anhoriga/registrera?lang=ar")).text


@pytest.mark.parametrize("tag", list(i18n.LANGUAGES))
async def test_refusals_and_the_limit_page_speak_the_residents_language(tmp_path, tag: str) -> None:
    from services.crisis_site.limits import RegistryLimits
    from services.crisis_site.ratelimit import RateLimiter

    app = app_with(tmp_path)
    app.state.site.registry_limits = RegistryLimits(lookup_name=RateLimiter(1, 60.0))
    async with client_for(app) as c:
        cross = await c.post(
            f"/anhoriga/sok?lang={tag}", data={"name": "x"}, headers={"origin": "http://evil.example"}
        )
        assert (
            cross.status_code == 403
            and TEXTS[tag]["cross_site"] in cross.text
            and TEXTS[tag]["refused"] in cross.text
        )
        many = await c.post(
            f"/anhoriga/sok?lang={tag}",
            content="&".join(f"a{i}=1" for i in range(100)),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert many.status_code == 400 and TEXTS[tag]["form_fields"] in many.text
        for _ in range(2):
            hit = await c.post(
                "/anhoriga/sok", data={"name": "Åsa Öberg", "identifier": "0701234567", "lang": tag}
            )
        assert hit.status_code == 429 and TEXTS[tag]["limited"].format(minutes=1) in hit.text
