"""Languages: the page's own texts by Accept-Language and by plain links; messages as written."""

from __future__ import annotations

import re

import pytest
from site_helpers import client_for

from services.crisis_site import create_app, i18n


@pytest.mark.parametrize(
    ("query", "header", "chosen"),
    [
        (None, None, "sv"),
        (None, "en-GB,en;q=0.9", "en"),
        (None, "de-DE,fi;q=0.8,en;q=0.5", "fi"),
        (None, "ar-SE", "ar"),
        (None, "so;q=0.4, en;q=0.6", "en"),
        (None, "sv-x-ll", "sv-x-ll"),
        (None, "de, fr;q=0.9", "sv"),
        (None, "en;q=0, fi", "fi"),
        (None, "en;q=garbage, so", "so"),
        ("en", "fi", "en"),
        ("xx", "fi", "fi"),
    ],
)
def test_choose(query: str | None, header: str | None, chosen: str) -> None:
    assert i18n.choose(query, header) == chosen


def test_every_language_has_every_text_except_the_easy_swedish_fallbacks() -> None:
    keys = set(i18n.TEXTS["sv"])
    for tag in ("en", "fi", "ar", "so"):
        assert set(i18n.TEXTS[tag]) == keys - {"Test"}, tag
    assert set(i18n.TEXTS["sv-x-ll"]) <= keys


@pytest.mark.parametrize("tag", list(i18n.LANGUAGES))
async def test_page_in_each_language(tag: str) -> None:
    async with client_for(create_app()) as c:
        by_link = await c.get(f"/?lang={tag}")
        by_header = await c.get("/", headers={"Accept-Language": tag})
    assert by_link.text == by_header.text
    html = by_link.text
    rtl = ' dir="rtl"' if tag == "ar" else ""
    assert f'<html lang="{tag}"{rtl}>' in html
    assert by_link.headers["content-language"] == tag
    assert f'<a class="skip" href="#innehall">{i18n.texts(tag)["skip"]}</a>' in html
    assert i18n.texts(tag)["points_intro"] in html
    assert "<h1>Krisinformation</h1>" in html  # the page's name stays the same in every language
    # The language menu links every language by its own name, marking the current one.
    assert re.search(rf'<a href="/\?lang={re.escape(tag)}"[^>]*aria-current="page"', html)
    for lang in i18n.LANGUAGES.values():
        assert f">{lang.name}</a>" in html


async def test_messages_in_their_own_language_with_a_note_when_only_swedish() -> None:
    async with client_for(create_app()) as c:
        en = (await c.get("/?lang=en")).text
        fi = (await c.get("/?lang=fi")).text
        sv = (await c.get("/")).text
        ar = (await c.get("/?lang=ar")).text
    # The storm message has an English text: English readers get it, with no note.
    assert "Long power cut and disrupted mobile network" in en
    storm_en = re.search(r'<article class="msg vma">(.*?)</article>', en, re.S).group(1)
    assert "only available in Swedish" not in storm_en
    # The water message exists only in Swedish: shown in Swedish, marked lang="sv", with the note.
    water_en = re.search(r'<article class="msg" lang="sv" dir="ltr">(.*?)</article>', en, re.S).group(1)
    assert "Kokningsrekommendation" in water_en and "This message is only available in Swedish." in water_en
    assert "Tämä tiedote on saatavilla vain ruotsiksi." in fi
    assert "Långvarigt strömavbrott" in fi  # no Finnish text: the Swedish one
    assert "finns bara på svenska" not in sv
    assert "هذه الرسالة متوفرة باللغة السويدية فقط." in ar
