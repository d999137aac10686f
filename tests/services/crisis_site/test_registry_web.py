"""The safe-and-well registry's pages as a person uses them: register, look up, update, delete."""

from __future__ import annotations

import re

import httpx
import pytest
from site_helpers import app_with, client_for

PERSON = {
    "name": "Åsa Öberg",
    "identifier": "070-123 45 67",
    "presets": ["safe", "with_family"],
    "text": "Hälsa mamma",
}


@pytest.fixture
async def site(tmp_path):
    async with client_for(app_with(tmp_path)) as c:
        yield c


def code_of(html: str) -> str:
    return re.search(r'id="kod">([A-Z0-9-]+)<', html).group(1)


async def register(c: httpx.AsyncClient, **fields) -> httpx.Response:
    return await c.post("/anhoriga/registrera", data={**PERSON, **fields})


async def lookup(c: httpx.AsyncClient, name: str, identifier: str, lang: str = "sv") -> httpx.Response:
    return await c.post("/anhoriga/sok", data={"name": name, "identifier": identifier, "lang": lang})


async def test_forms_are_plain_html_in_swedish_first(site: httpx.AsyncClient) -> None:
    for path in ("/anhoriga", "/anhoriga/registrera", "/anhoriga/sok", "/anhoriga/andra"):
        r = await site.get(path)
        assert r.status_code == 200 and '<html lang="sv"' in r.text
        assert "<script" not in r.text and r.headers["cache-control"] == "no-store"
    assert "Meddela att du är OK" in (await site.get("/anhoriga/registrera")).text
    english = await site.get("/anhoriga/registrera?lang=en")
    assert '<html lang="en"' in english.text and "Let others know you are OK" in english.text


async def test_register_then_relatives_find_only_name_times_and_messages(site: httpx.AsyncClient) -> None:
    r = await register(site)
    assert r.status_code == 200 and "Du är registrerad." in r.text
    assert re.fullmatch(r"[A-Z0-9]{4}(-[A-Z0-9]{4}){3}", code_of(r.text))
    found = await lookup(site, "  asa  OBERG ", "+46 70 123 45 67")
    assert found.status_code == 200
    assert "Meddelanden från Åsa Öberg" in found.text
    assert "Jag är i säkerhet och mår bra." in found.text and "Jag bor hos familj eller vänner." in found.text
    assert "Hälsa mamma" in found.text and '<time dir="ltr">' in found.text
    # The identifier the searcher typed, and any place, never appear.
    assert "070" not in found.text and "123 45 67" not in found.text
    english = await lookup(site, "Åsa Öberg", "0701234567", lang="en")
    assert "Messages from Åsa Öberg" in english.text and "I am safe and well." in english.text


async def test_no_such_person_and_wrong_identifier_look_the_same(site: httpx.AsyncClient) -> None:
    await register(site)
    nobody = await lookup(site, "Ingen Alls", "070-123 45 67")
    wrong = await lookup(site, "Åsa Öberg", "070-123 45 68")
    partial = await lookup(site, "Åsa", "070-123 45 67")
    wildcard = await lookup(site, "%", "%")
    empty = await lookup(site, "", "")
    assert nobody.status_code == wrong.status_code == partial.status_code == wildcard.status_code == 200
    assert nobody.content == wrong.content == partial.content == wildcard.content == empty.content
    assert "Vi hittade ingen registrering" in nobody.text and "Öberg" not in nobody.text


async def test_there_is_no_listing(site: httpx.AsyncClient) -> None:
    await register(site)
    for path in ("/anhoriga/sok", "/anhoriga", "/anhoriga/sok?name=%C3%85sa", "/api/crisis.json", "/"):
        assert "Öberg" not in (await site.get(path)).text
    assert (await site.get("/anhoriga/lista")).status_code in (404, 405)
    assert "/anhoriga" not in str((await site.get("/openapi.json")).json()["paths"])


async def test_bad_fields_are_shown_back_and_nothing_is_stored(site: httpx.AsyncClient) -> None:
    r = await site.post(
        "/anhoriga/registrera", data={"name": "", "identifier": "12", "text": "x" * 201, "lang": "sv"}
    )
    assert r.status_code == 400 and "Det gick inte att spara." in r.text
    assert 'id="e-name"' in r.text and "Fältet får inte vara tomt." in r.text
    assert 'id="e-identifier"' in r.text and "Skriv ett telefonnummer" in r.text
    assert 'id="e-presets"' in r.text and "Välj minst ett meddelande." in r.text
    assert 'id="e-text"' in r.text and "Texten är för lång." in r.text
    assert 'value="12"' in r.text  # what the person typed is kept
    assert "Du är registrerad." not in r.text


HOSTILE = "<script>alert(1)</script>\"'><img src=x onerror=alert(1)>"


@pytest.mark.parametrize("field", ["name", "identifier", "text", "presets", "lang"])
async def test_hostile_input_in_every_field_is_escaped_or_refused(
    site: httpx.AsyncClient, field: str
) -> None:
    value = (
        ("Storgatan 1 " + HOSTILE)
        if field == "identifier"
        else ("Karl " + HOSTILE if field == "name" else HOSTILE)
    )
    r = await register(site, **{field: [value] if field == "presets" else value})
    assert "<script>" not in r.text and "<img" not in r.text
    if field in ("name", "text"):
        assert r.status_code == 200
        found = await lookup(
            site, "Karl " + HOSTILE if field == "name" else PERSON["name"], PERSON["identifier"]
        )
        assert "&lt;script&gt;" in found.text and "<script>" not in found.text and "<img" not in found.text
    elif field == "presets":
        assert r.status_code == 400 and "Välj bland meddelandena i listan." in r.text
    elif field == "lang":
        assert r.status_code == 200 and '<html lang="sv"' in r.text
    else:
        assert r.status_code == 200


async def test_oversized_and_wrong_type_forms_are_refused(site: httpx.AsyncClient) -> None:
    big = await site.post("/anhoriga/registrera", data={**PERSON, "text": "x" * 70_000})
    assert big.status_code == 413
    js = await site.post("/anhoriga/registrera", json=PERSON)
    assert js.status_code == 415
    many = await site.post(
        "/anhoriga/sok",
        content="&".join(f"a{i}=1" for i in range(100)),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert many.status_code == 400
    cross = await site.post(
        "/anhoriga/ta-bort", data={"code": "x"}, headers={"origin": "http://evil.example"}
    )
    assert cross.status_code == 403


async def test_update_is_appended_and_delete_needs_the_code(site: httpx.AsyncClient) -> None:
    code = code_of((await register(site)).text)
    bad = await site.post("/anhoriga/andra", data={"code": "AAAA-BBBB-CCCC-DDDD", "presets": "at_point"})
    assert bad.status_code == 404 and "Koden stämmer inte" in bad.text
    ok = await site.post(
        "/anhoriga/andra", data={"code": code.lower(), "presets": "at_point", "text": "Ny text"}
    )
    assert ok.status_code == 200 and "Ditt meddelande är sparat." in ok.text
    found = (await lookup(site, PERSON["name"], PERSON["identifier"])).text
    assert found.count('<article class="msg">') == 2
    assert found.index("Hälsa mamma") < found.index("Ny text")  # the first message is kept, not overwritten
    assert (await site.post("/anhoriga/ta-bort", data={"code": "AAAA-BBBB-CCCC-DDDD"})).status_code == 404
    assert "Öberg" in (await lookup(site, PERSON["name"], PERSON["identifier"])).text
    gone = await site.post("/anhoriga/ta-bort", data={"code": code})
    assert gone.status_code == 200 and "Dina uppgifter är borttagna." in gone.text
    assert "Vi hittade ingen registrering" in (await lookup(site, PERSON["name"], PERSON["identifier"])).text


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_lookups_are_limited_per_name_and_per_client_with_a_clear_message(tmp_path) -> None:
    from services.crisis_site.limits import RegistryLimits
    from services.crisis_site.ratelimit import RateLimiter

    app = app_with(tmp_path)
    clock = Clock()
    app.state.site.registry_limits = RegistryLimits(
        lookup_client=RateLimiter(5, 60.0, clock),
        lookup_name=RateLimiter(3, 60.0, clock),
        write_client=RateLimiter(2, 60.0, clock),
    )
    async with client_for(app) as c:
        # Guessing phone numbers for one name: the fourth try, however the name is spelled, is refused.
        for guess in range(3):
            assert (await lookup(c, "Åsa Öberg", f"070-000 00 0{guess}")).status_code == 200
        r = await lookup(c, "ASA  oberg", "070-000 00 09")
        assert r.status_code == 429 and "För många försök på kort tid. Vänta 1 minuter" in r.text
        assert r.headers["retry-after"] == "60"
        # Other names still work until the client's own limit.
        assert (await lookup(c, "Karl Berg", "Byvägen 1")).status_code == 200
        assert (await lookup(c, "Eva Berg", "Byvägen 1")).status_code == 429  # 5 counted for this client
        clock.now += 60
        assert (await lookup(c, "Åsa Öberg", "070-000 00 01")).status_code == 200
        # Writes have their own limit.
        assert (await register(c)).status_code == 200
        assert (await register(c)).status_code == 200
        hit = await c.post("/anhoriga/registrera", data={**PERSON, "lang": "en"})
        assert hit.status_code == 429 and "Too many attempts" in hit.text
        assert (await c.post("/anhoriga/ta-bort", data={"code": "X"})).status_code == 429


async def test_the_crisis_page_links_to_the_registry(site: httpx.AsyncClient) -> None:
    page = await site.get("/")
    assert '<a href="/anhoriga?lang=sv">Meddela att du är OK, eller sök efter en anhörig</a>' in page.text
    assert '<a href="/anhoriga?lang=en">Let others know you are OK' in (await site.get("/?lang=en")).text
    assert "/anhoriga" not in (await site.get("/utskrift")).text


async def test_staff_see_counts_never_names(tmp_path) -> None:
    from services.crisis_site.accounts import add_editor

    app = app_with(tmp_path)
    add_editor(app.state.site.store, "anna", "korrekt häst batteri")
    async with client_for(app) as c:
        assert (await c.get("/redaktion/anhoriga")).headers["location"] == "/redaktion/logga-in"
        code = code_of((await register(c)).text)
        await register(c, name="Karl Berg")
        await c.post("/anhoriga/andra", data={"code": code, "presets": "at_point"})
        await lookup(c, PERSON["name"], PERSON["identifier"])
        await lookup(c, "Ingen Alls", PERSON["identifier"])
        form = await c.get("/redaktion/logga-in")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
        await c.post(
            "/redaktion/logga-in",
            data={"csrf": token, "username": "anna", "password": "korrekt häst batteri"},
        )
        page = await c.get("/redaktion/anhoriga")
        assert page.status_code == 200
        assert '<td id="c-records">2</td>' in page.text and '<td id="c-messages">3</td>' in page.text
        assert '<td id="c-lookups">2</td>' in page.text and '<td id="c-found">1</td>' in page.text
        assert "Öberg" not in page.text and "Karl" not in page.text and "070" not in page.text


async def test_staff_register_on_someones_behalf_with_csrf_and_a_nameless_audit(tmp_path) -> None:
    from services.crisis_site.accounts import add_editor

    app = app_with(tmp_path)
    store = app.state.site.store
    add_editor(store, "anna", "korrekt häst batteri")
    async with client_for(app) as c:
        anonymous = await c.post("/redaktion/anhoriga/registrera", data=PERSON)
        assert anonymous.status_code == 303 and anonymous.headers["location"] == "/redaktion/logga-in"
        form = await c.get("/redaktion/logga-in")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
        await c.post(
            "/redaktion/logga-in",
            data={"csrf": token, "username": "anna", "password": "korrekt häst batteri"},
        )
        page = await c.get("/redaktion/anhoriga")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        forged = await c.post("/redaktion/anhoriga/registrera", data={**PERSON, "csrf": "forged"})
        assert forged.status_code == 403
        bad = await c.post("/redaktion/anhoriga/registrera", data={**PERSON, "identifier": "1", "csrf": csrf})
        assert bad.status_code == 400 and 'id="e-identifier"' in bad.text
        ok = await c.post("/redaktion/anhoriga/registrera", data={**PERSON, "csrf": csrf})
        assert ok.status_code == 200 and "Du är registrerad." in ok.text and code_of(ok.text)
        assert "Meddelanden från Åsa Öberg" in (await lookup(c, PERSON["name"], PERSON["identifier"])).text
        entries = [e for e in store.audit_log() if e["action"] == "registry-register"]
        assert len(entries) == 1 and entries[0]["username"] == "anna"
        assert "Öberg" not in str(store.audit_log())


async def test_language_links_after_a_post_lead_to_pages_that_exist(site: httpx.AsyncClient) -> None:
    code = code_of((await register(site)).text)
    for answer in (
        await site.post("/anhoriga/ta-bort", data={"code": code}),
        await lookup(site, "Ingen Alls", "Byvägen 1"),
        await register(site),
    ):
        for link in re.findall(r'<li><a href="([^"]+)" lang=', answer.text):
            assert (await site.get(link)).status_code == 200, link


async def test_a_message_imported_from_person_finder_shows_its_words_only(tmp_path) -> None:
    from services.crisis_site.pfif import import_pfif

    doc = (
        '<pfif:pfif xmlns:pfif="http://zesty.ca/pfif/1.4"><pfif:person>'
        "<pfif:person_record_id>google.org/person.7</pfif:person_record_id>"
        "<pfif:source_date>2027-01-15T08:00:00Z</pfif:source_date><pfif:full_name>Märta Lind</pfif:full_name>"
        "<pfif:note><pfif:note_record_id>google.org/note.7</pfif:note_record_id><pfif:author_name>Per</pfif:author_name>"
        "<pfif:source_date>2027-01-15T09:00:00Z</pfif:source_date><pfif:status>believed_alive</pfif:status>"
        "<pfif:phone_of_found_person>070-765 43 21</pfif:phone_of_found_person>"
        "<pfif:text>Hon mår bra &lt;3</pfif:text></pfif:note></pfif:person></pfif:pfif>"
    ).encode()
    app = app_with(tmp_path)
    assert import_pfif(app.state.site.registry, doc)[0] == 1
    async with client_for(app) as site:
        found = await lookup(site, "marta lind", "0707654321")
    assert "Meddelanden från Märta Lind" in found.text and "Hon mår bra &lt;3" in found.text
    assert "<ul></ul>" not in found.text and "765" not in found.text


async def test_invisible_characters_do_not_make_a_new_name_for_the_limits(tmp_path) -> None:
    from services.crisis_site.limits import RegistryLimits
    from services.crisis_site.ratelimit import RateLimiter

    app = app_with(tmp_path)
    app.state.site.registry_limits = RegistryLimits(lookup_name_client=RateLimiter(3, 600.0))
    async with client_for(app) as c:
        await register(c)
        for guess in range(3):
            assert (await lookup(c, "Åsa Öberg", f"070-000 00 0{guess}")).status_code == 200
        for disguise in ("\u200bÅsa Öberg", "Åsa\u200d Öberg", "\ufeffASA OBERG", "Åsa-Öberg"):
            r = await lookup(c, disguise, PERSON["identifier"])
            assert r.status_code == 429 and 'data-registry="limited"' in r.text, disguise


async def test_a_strangers_misses_do_not_lock_a_relative_out(tmp_path) -> None:
    from services.crisis_site.limits import RegistryLimits
    from services.crisis_site.ratelimit import RateLimiter

    app = app_with(tmp_path)
    app.state.site.registry_limits = RegistryLimits(
        lookup_name_client=RateLimiter(3, 600.0), lookup_name=RateLimiter(10, 3600.0)
    )
    stranger = httpx.ASGITransport(app=app, client=("10.0.0.66", 1234))
    async with client_for(app) as relative:
        await register(relative)
        async with httpx.AsyncClient(transport=stranger, base_url="http://krisinfo.kommun.example") as s:
            answers = [(await lookup(s, "Åsa Öberg", f"070-000 00 {i:02}")).status_code for i in range(5)]
        assert answers == [200, 200, 200, 429, 429], "the stranger's guesses stop at their own budget"
        found = await lookup(relative, "Åsa Öberg", PERSON["identifier"])
        assert found.status_code == 200 and 'data-registry="found"' in found.text
        # Finding someone spends nothing: a relative can look again and again.
        for _ in range(5):
            assert 'data-registry="found"' in (await lookup(relative, "Åsa Öberg", PERSON["identifier"])).text


async def test_a_null_origin_is_refused_on_the_registry_forms(site: httpx.AsyncClient) -> None:
    r = await site.post("/anhoriga/registrera", data=PERSON, headers={"Origin": "null"})
    assert r.status_code == 403 and 'data-registry="refused"' in r.text
    assert 'data-registry="not-found"' in (await lookup(site, PERSON["name"], PERSON["identifier"])).text
