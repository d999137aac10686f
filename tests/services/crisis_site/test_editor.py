"""Publishing on the island: login, CSRF, publish / update / cancel, the audit log."""

from __future__ import annotations

import re

import httpx
import pytest
from site_helpers import app_with, client_for

from services.crisis_site.accounts import AccountError, add_editor

PASSWORD = "korrekt häst batteri"


@pytest.fixture
async def site(tmp_path):
    app = app_with(tmp_path)
    add_editor(app.state.site.store, "anna", PASSWORD)
    async with client_for(app) as c:
        yield c


def csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


async def login(c: httpx.AsyncClient, password: str = PASSWORD) -> httpx.Response:
    form = await c.get("/redaktion/logga-in")
    return await c.post(
        "/redaktion/logga-in", data={"csrf": csrf(form.text), "username": "anna", "password": password}
    )


def new_message(token: str, **fields: str) -> dict[str, str]:
    return {
        "csrf": token,
        "headline": "Vattnet är avstängt på Storgatan",
        "description": "En ledning har gått sönder.",
        "instruction": "Hämta vatten på kulturhuset.\nKoka inte vattnet.",
        "area": "Storgatan",
        "severity": "Extreme",
        "urgency": "Immediate",
        "certainty": "Observed",
        "status": "Actual",
        **fields,
    }


async def test_without_login_nothing_can_be_published(site: httpx.AsyncClient) -> None:
    assert (await site.get("/redaktion")).headers["location"] == "/redaktion/logga-in"
    r = await site.post("/redaktion/meddelanden", data=new_message("whatever"))
    assert r.status_code == 401 and "Du är inte inloggad." in r.text
    assert "Vattnet är avstängt" not in (await site.get("/")).text


async def test_wrong_password_is_refused_and_the_name_kept(site: httpx.AsyncClient) -> None:
    r = await login(site, "fel lösenord igen")
    assert r.status_code == 401
    assert "Fel användarnamn eller lösenord." in r.text and 'value="anna"' in r.text
    assert "krisinfo_session" not in site.cookies


async def test_login_without_its_csrf_token_is_refused(site: httpx.AsyncClient) -> None:
    await site.get("/redaktion/logga-in")
    r = await site.post(
        "/redaktion/logga-in", data={"csrf": "forged", "username": "anna", "password": PASSWORD}
    )
    assert r.status_code == 403 and "säkerhetskod" in r.text


async def test_publish_shows_at_once_with_update_cancel_and_audit(site: httpx.AsyncClient) -> None:
    r = await login(site)
    assert r.status_code == 303 and r.headers["location"] == "/redaktion"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    before = await site.get("/")
    dashboard = await site.get("/redaktion")
    assert dashboard.headers["cache-control"] == "no-store"
    assert (
        "<script" not in dashboard.text
        and "http://" not in dashboard.text
        and "https://" not in dashboard.text
    )
    token = csrf(dashboard.text)
    r = await site.post("/redaktion/meddelanden", data=new_message(token))
    assert r.status_code == 303
    page = await site.get("/", headers={"If-None-Match": before.headers["etag"]})
    assert page.status_code == 200, "the cached page was invalidated"
    assert "Vattnet är avstängt på Storgatan" in page.text
    assert "<li>Hämta vatten på kulturhuset.</li>" in page.text
    assert "Från krisledningen här på plats." in page.text
    # Extreme beats the seed's Severe message: the new one carries the VMA banner.
    banner = re.search(r'<article class="msg vma">(.*?)</article>', page.text, re.S).group(1)
    assert "Vattnet är avstängt" in banner
    identifier = next(
        m["identifier"]
        for m in (await site.get("/api/crisis.json")).json()["messages"]
        if m["origin"] == "island"
    )
    cap = (await site.get("/feeds/cap.xml")).text
    assert f"<cap:identifier>{identifier}</cap:identifier>" in cap

    r = await site.post(
        f"/redaktion/meddelanden/{identifier}", data=new_message(token, headline="Vattnet är tillbaka")
    )
    assert r.status_code == 303
    page = (await site.get("/")).text
    assert "Vattnet är tillbaka" in page and "Vattnet är avstängt" not in page
    data = (await site.get("/api/crisis.json")).json()
    assert next(m for m in data["messages"] if m["identifier"] == identifier)["msgType"] == "Update"

    r = await site.post(f"/redaktion/meddelanden/{identifier}/upphav", data={"csrf": token})
    assert r.status_code == 303
    assert "Vattnet är tillbaka" not in (await site.get("/")).text

    log = (await site.get("/redaktion/logg")).text
    assert "<script" not in log and "http://" not in log
    for action in ("login", "publish", "update", "cancel", "add-editor"):
        assert f"<td>{action}</td>" in log
    assert log.count("<td>anna</td>") >= 4


async def test_a_forged_csrf_token_is_refused(site: httpx.AsyncClient) -> None:
    await login(site)
    r = await site.post("/redaktion/meddelanden", data=new_message("forged-token"))
    assert r.status_code == 403
    assert "Vattnet är avstängt" not in (await site.get("/")).text


async def test_a_cross_site_post_is_refused_even_with_the_token(site: httpx.AsyncClient) -> None:
    await login(site)
    token = csrf((await site.get("/redaktion")).text)
    r = await site.post(
        "/redaktion/meddelanden", data=new_message(token), headers={"Origin": "http://evil.example"}
    )
    assert r.status_code == 403
    same = await site.post(
        "/redaktion/meddelanden",
        data=new_message(token),
        headers={"Origin": "http://krisinfo.kommun.example"},
    )
    assert same.status_code == 303


async def test_bad_fields_are_shown_back_with_what_was_typed(site: httpx.AsyncClient) -> None:
    await login(site)
    token = csrf((await site.get("/redaktion")).text)
    r = await site.post(
        "/redaktion/meddelanden",
        data=new_message(
            token,
            headline="",
            severity="Terrible",
            expires="i morgon",
            headline_en="Water off",
            description="Kvar",
        ),
    )
    assert r.status_code == 400
    html = r.text
    assert "Meddelandet publicerades inte." in html
    assert re.search(r'id="e-headline">Fältet får inte vara tomt.', html)
    assert re.search(r'id="e-severity">Välj ett av alternativen.', html)
    assert re.search(r'id="e-expires">Skriv tiden som', html)
    assert re.search(r'id="e-description_en">Fyll i både rubrik och text på engelska', html)
    assert 'value="Water off"' in html and ">Kvar</textarea>" in html  # what was typed is kept
    assert 'aria-invalid="true" aria-describedby="e-headline"' in html


async def test_logout_ends_the_session(site: httpx.AsyncClient) -> None:
    await login(site)
    token = csrf((await site.get("/redaktion")).text)
    assert (await site.post("/redaktion/logga-ut", data={"csrf": token})).status_code == 303
    assert (await site.get("/redaktion")).status_code == 303


async def test_form_size_and_type_are_limited(site: httpx.AsyncClient) -> None:
    await login(site)
    token = csrf((await site.get("/redaktion")).text)
    huge = await site.post("/redaktion/meddelanden", data=new_message(token, description="x" * 70_000))
    assert huge.status_code == 413
    as_json = await site.post("/redaktion/meddelanden", json=new_message(token))
    assert as_json.status_code == 415


async def test_a_form_with_too_many_fields_is_a_clear_400_not_a_crash(site: httpx.AsyncClient) -> None:
    await login(site)
    token = csrf((await site.get("/redaktion")).text)
    fields = new_message(token, **{f"extra{i}": "x" for i in range(60)})
    r = await site.post("/redaktion/meddelanden", data=fields)
    assert r.status_code == 400 and "Formuläret har för många fält." in r.text
    assert "Vattnet är avstängt" not in (await site.get("/")).text  # nothing was published


def test_accounts_refuse_weak_input(tmp_path) -> None:
    from services.crisis_site.store import Store

    store = Store(tmp_path / "s.sqlite3")
    with pytest.raises(AccountError, match="at least 12"):
        add_editor(store, "anna", "kort")
    with pytest.raises(AccountError, match="username"):
        add_editor(store, "Anna Admin", PASSWORD)
    add_editor(store, "anna", PASSWORD)
    assert store.password_hash("anna").startswith("$argon2id$")


def test_known_weak_passwords_are_refused_whatever_their_length(tmp_path) -> None:
    from services.crisis_site.store import Store

    store = Store(tmp_path / "s.sqlite3")
    for weak in ("passwordpassword", "anna1234anna1234", "abcdefghijklmnop", "qwertyuiopasdf"):
        with pytest.raises(AccountError, match="too easy to guess"):
            add_editor(store, "anna", weak)
    assert store.password_hash("anna") is None


async def test_a_null_origin_is_refused_even_with_the_token(site: httpx.AsyncClient) -> None:
    await login(site)
    token = csrf((await site.get("/redaktion")).text)
    r = await site.post("/redaktion/meddelanden", data=new_message(token), headers={"Origin": "null"})
    assert r.status_code == 403 and "annan webbplats" in r.text
    assert "Vattnet är avstängt" not in (await site.get("/")).text


async def test_password_guessing_meets_a_429_with_retry_after_and_then_the_right_password_waits(
    tmp_path,
) -> None:
    from services.crisis_site.limits import LoginLimits
    from services.crisis_site.ratelimit import RateLimiter

    app = app_with(tmp_path)
    add_editor(app.state.site.store, "anna", PASSWORD)
    app.state.site.login_limits = LoginLimits(
        per_client=RateLimiter(100, 600.0), failures_per_account=RateLimiter(5, 900.0)
    )
    async with client_for(app) as c:
        answers = [(await login(c, f"fel lösenord {i}")).status_code for i in range(5)]
        assert answers == [401] * 5
        limited = await login(c, "fel lösenord 6")
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 800
        assert "För många inloggningsförsök på kort tid. Vänta 15 minuter" in limited.text
        right = await login(c)
        assert right.status_code == 429, "the right password does not get through a guesser's limit"
        assert (await c.get("/redaktion")).status_code == 303


async def test_logins_from_one_address_are_limited_before_any_password_is_checked(tmp_path) -> None:
    from services.crisis_site.limits import LoginLimits
    from services.crisis_site.ratelimit import RateLimiter

    app = app_with(tmp_path)
    add_editor(app.state.site.store, "anna", PASSWORD)
    app.state.site.login_limits = LoginLimits(
        per_client=RateLimiter(3, 600.0), failures_per_account=RateLimiter(100, 900.0)
    )
    async with client_for(app) as c:
        names = [(await c.post("/redaktion/logga-in", data={"u": "x"})).status_code for _ in range(2)]
        assert names == [403, 403]  # no login CSRF token: refused before the limits
        for user in ("a", "b", "c"):
            form = await c.get("/redaktion/logga-in")
            data = {"csrf": csrf(form.text), "username": user, "password": "x"}
            assert (await c.post("/redaktion/logga-in", data=data)).status_code == 401
        last_form = csrf(form.text)
        form = await c.get("/redaktion/logga-in")  # no form to fill in for minutes: it says so instead
        assert form.status_code == 429 and "Vänta 10 minuter" in form.text
        assert int(form.headers["retry-after"]) > 500 and form.headers["cache-control"] == "no-store"
        assert "content-security-policy" in form.headers
        data = {"csrf": last_form, "username": "d", "password": "x"}
        assert (await c.post("/redaktion/logga-in", data=data)).status_code == 429
        # Refused before the form is read: not even its missing token is looked at.
        assert (await c.post("/redaktion/logga-in", data={"u": "x"})).status_code == 429


def test_password_hashes_are_made_at_owasps_argon2id_minimum() -> None:
    """OWASP's Password Storage Cheat Sheet: argon2id with 19 MiB, 2 passes, 1 lane. Not more: every
    check a guesser is let through costs the island's one core, beside the crisis page (docs/security.md)."""
    from argon2 import Type, extract_parameters

    from services.crisis_site.accounts import _hasher

    params = extract_parameters(_hasher.hash("ett lösenord för provet"))
    assert params.type is Type.ID
    assert (params.memory_cost, params.time_cost, params.parallelism) == (19 * 1024, 2, 1)


async def test_an_older_hash_still_logs_in_and_is_made_again_at_owasps_minimum(tmp_path) -> None:
    """An account made before (argon2-cffi's default: 64 MiB, 3 passes, 4 lanes) keeps its password;
    its first login stores a hash at the new parameters, and that one logs in too."""
    from argon2 import PasswordHasher, extract_parameters

    app = app_with(tmp_path)
    store = app.state.site.store
    add_editor(store, "anna", PASSWORD)
    store.set_password_hash(
        "anna", PasswordHasher(time_cost=3, memory_cost=64 * 1024, parallelism=4).hash(PASSWORD)
    )
    async with client_for(app) as c:
        assert (await login(c)).status_code == 303
        params = extract_parameters(store.password_hash("anna"))
        assert (params.memory_cost, params.time_cost, params.parallelism) == (19 * 1024, 2, 1)
        c.cookies.clear()  # someone else, then anna again, against the new hash
        assert (await login(c, "fel lösenord")).status_code == 401
        assert (await login(c)).status_code == 303


async def test_an_older_dearer_hash_takes_as_much_of_the_sites_hashing_budget_as_it_costs(tmp_path) -> None:
    """The whole site's budget is 8 checks at today's parameters in any 4 s; a check of a hash still at
    argon2-cffi's default (64 MiB, 3 passes: about 6 of today's) takes 6 of them, so guessing such an
    account costs no more CPU than guessing any other."""
    from argon2 import PasswordHasher

    from services.crisis_site.limits import LoginLimits
    from services.crisis_site.ratelimit import RateLimiter

    app = app_with(tmp_path)
    store = app.state.site.store
    add_editor(store, "anna", PASSWORD)
    add_editor(store, "bertil", PASSWORD)
    old = PasswordHasher(time_cost=3, memory_cost=64 * 1024, parallelism=4).hash(PASSWORD)
    store.set_password_hash("anna", old)
    app.state.site.login_limits = LoginLimits(per_client=RateLimiter(100, 600.0))
    async with client_for(app) as c:
        answers = [(await login(c, f"fel lösenord {i}")).status_code for i in range(3)]
        assert answers == [401, 401, 503]
        app.state.site.login_limits = LoginLimits(per_client=RateLimiter(100, 600.0))  # a fresh budget
        answers = []
        for i in range(9):
            form = await c.get("/redaktion/logga-in")
            data = {"csrf": csrf(form.text), "username": "bertil", "password": f"fel lösenord {i}"}
            answers.append((await c.post("/redaktion/logga-in", data=data)).status_code)
        assert answers == [401] * 8 + [503]
