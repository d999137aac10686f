"""The safe-and-well registry's pages: register, look up, add an update or delete with the code.

Plain forms, no JavaScript, Swedish first. Lookups are POSTed so names and phone numbers
never end up in URLs, logs or browser history. Every answer is no-store.
"""

from __future__ import annotations

import hmac
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from services.crisis_site import i18n
from services.crisis_site.editor import SESSION_COOKIE, _hash, _Refused, _same_origin, read_form
from services.crisis_site.ratelimit import RateLimiter
from services.crisis_site.registry import (
    MAX_IDENTIFIER,
    MAX_NAME,
    MAX_TEXT,
    PRESETS,
    Registry,
    RegistryError,
    normalise_name,
)
from services.crisis_site.render import local_datetime

if TYPE_CHECKING:
    from services.crisis_site.app import Site

PREFIX = "/anhoriga"


@dataclass
class Limits:
    """Per client address, generous: a whole trygghetspunkt may share one. Per looked-up name,
    tight: nobody needs to try many phone numbers or addresses for one name."""

    lookup_client: RateLimiter = field(default_factory=lambda: RateLimiter(300, 600.0))
    lookup_name: RateLimiter = field(default_factory=lambda: RateLimiter(20, 600.0))
    write_client: RateLimiter = field(default_factory=lambda: RateLimiter(300, 600.0))

TEXTS: dict[str, dict[str, str]] = {
    "sv": {
        "title": "Jag är OK – anhöriga",
        "intro": "Här kan du meddela att du är OK, och anhöriga kan se det från alla trygghetspunkter på ön. "
                 "Den som söker måste redan veta ditt fullständiga namn och ditt telefonnummer eller din hemadress. "
                 "Ingen kan se var du är, och ingen kan se en lista över alla som är registrerade.",
        "register": "Meddela att du är OK",
        "lookup": "Sök efter en anhörig",
        "change": "Lägg till ett nytt meddelande eller ta bort dina uppgifter",
        "name": "Fullständigt namn",
        "identifier": "Telefonnummer eller hemadress (från före krisen)",
        "identifier_hint": "Samma uppgift som dina anhöriga känner till, till exempel 070-123 45 67 eller Storgatan 3, Ödsbyn.",
        "presets": "Välj ett eller flera meddelanden",
        "safe": "Jag är i säkerhet och mår bra.",
        "at_point": "Jag är på en trygghetspunkt.",
        "with_family": "Jag bor hos familj eller vänner.",
        "will_contact": "Jag hör av mig när jag kan.",
        "need_nothing": "Jag behöver ingen hjälp just nu.",
        "text": "Eget meddelande (frivilligt, högst {max} tecken)",
        "text_hint": "Skriv inte var du är.",
        "send": "Skicka",
        "search": "Sök",
        "code": "Din personliga kod",
        "registered": "Du är registrerad.",
        "code_keep": "Spara koden. Med den kan du lägga till ett meddelande eller ta bort dina uppgifter. "
                     "Koden visas bara en gång och kan inte tas fram igen.",
        "expires": "Uppgifterna tas bort automatiskt efter {days} dagar.",
        "found": "Meddelanden från {name}",
        "not_found": "Vi hittade ingen registrering med det namnet och den uppgiften. "
                     "Kontrollera stavningen och försök igen, eller fråga personalen.",
        "lookup_intro": "Skriv det fullständiga namnet och telefonnumret eller hemadressen. Båda måste stämma.",
        "updated": "Ditt meddelande är sparat.",
        "deleted": "Dina uppgifter är borttagna.",
        "bad_code": "Koden stämmer inte med någon registrering.",
        "delete": "Ta bort mina uppgifter",
        "add": "Lägg till meddelandet",
        "fix": "Det gick inte att spara. Rätta fälten nedan.",
        "err_empty": "Fältet får inte vara tomt.",
        "err_long": "Texten är för lång.",
        "err_name": "Skriv ett namn med bokstäver.",
        "err_identifier": "Skriv ett telefonnummer (till exempel 070-123 45 67) eller en adress med gatunamn.",
        "err_no_preset": "Välj minst ett meddelande.",
        "err_preset": "Välj bland meddelandena i listan.",
        "back": "Tillbaka",
        "home": "Till krisinformationen",
        "refused": "Det gick inte",
        "limited": "För många försök på kort tid. Vänta {minutes} minuter och försök igen, eller fråga personalen.",
    },
    "en": {
        "title": "I am OK – loved ones",
        "intro": "Here you can let others know you are OK, and your loved ones can see it from every safety point on "
                 "the island. Whoever searches must already know your full name and your phone number or home address. "
                 "Nobody can see where you are, and nobody can see a list of everyone registered.",
        "register": "Let others know you are OK",
        "lookup": "Search for a loved one",
        "change": "Add a new message or remove your details",
        "name": "Full name",
        "identifier": "Phone number or home address (from before the crisis)",
        "identifier_hint": "Something your loved ones know, for example 070-123 45 67 or Storgatan 3, Ödsbyn.",
        "presets": "Choose one or more messages",
        "safe": "I am safe and well.",
        "at_point": "I am at a safety point (trygghetspunkt).",
        "with_family": "I am staying with family or friends.",
        "will_contact": "I will contact you when I can.",
        "need_nothing": "I do not need any help right now.",
        "text": "Your own message (optional, at most {max} characters)",
        "text_hint": "Do not write where you are.",
        "send": "Send",
        "search": "Search",
        "code": "Your private code",
        "registered": "You are registered.",
        "code_keep": "Keep this code. With it you can add a message or remove your details. "
                     "It is shown only once and cannot be recovered.",
        "expires": "Your details are removed automatically after {days} days.",
        "found": "Messages from {name}",
        "not_found": "We found no registration with that name and that phone number or address. "
                     "Check the spelling and try again, or ask the staff.",
        "lookup_intro": "Enter the full name and the phone number or home address. Both must match.",
        "updated": "Your message has been saved.",
        "deleted": "Your details have been removed.",
        "bad_code": "The code does not match any registration.",
        "delete": "Remove my details",
        "add": "Add the message",
        "fix": "Nothing was saved. Please correct the fields below.",
        "err_empty": "This field cannot be empty.",
        "err_long": "The text is too long.",
        "err_name": "Write a name with letters.",
        "err_identifier": "Write a phone number (for example 070-123 45 67) or an address with a street name.",
        "err_no_preset": "Choose at least one message.",
        "err_preset": "Choose from the messages in the list.",
        "back": "Back",
        "home": "To the crisis information",
        "refused": "That did not work",
        "limited": "Too many attempts in a short time. Wait {minutes} minutes and try again, or ask the staff.",
    },
}


def texts(tag: str) -> dict[str, str]:
    """The registry's texts in `tag`; a text missing there comes from Swedish, as on the page."""
    merged = dict(TEXTS[i18n.DEFAULT])
    merged.update(TEXTS.get(tag, {}))
    return merged




# The language links of a page answering a POST-only path lead to the form it came from.
_FORM_FOR = {f"{PREFIX}/ta-bort": f"{PREFIX}/andra", "/redaktion/anhoriga/registrera": "/redaktion/anhoriga"}


def _one(form: dict[str, list[str]], name: str) -> str:
    return form.get(name, [""])[0]


def registry_router(site: Site) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    events = {"lookups": 0, "found": 0, "limited": 0}  # since start; counts only, never names
    registry = Registry(site.config.database, ttl=site.config.registry_ttl_days * 86400)
    site.registry = registry
    site.registry_limits = Limits()  # read per request, so tests can swap in tighter ones

    def language(request: Request, form: dict[str, list[str]] | None = None) -> str:
        chosen = _one(form, "lang") if form else request.query_params.get("lang")
        return i18n.choose(chosen, request.headers.get("accept-language"))

    def render(request: Request, page: str, lang: str, status: int = 200, **context: Any) -> HTMLResponse:
        def when(ts: float) -> str:
            return local_datetime(datetime.fromtimestamp(ts, timezone.utc).astimezone(), lang)

        html = site.renderer.template("registry.html").render(
            page=page, css=site.renderer.css, municipality=site.store.content().municipality,
            t=texts(lang), lang=i18n.LANGUAGES[lang], languages=i18n.LANGUAGES.values(), presets=PRESETS,
            max_name=MAX_NAME, max_identifier=MAX_IDENTIFIER, max_text=MAX_TEXT, when=when,
            days=round(registry.ttl / 86400), path=_FORM_FOR.get(request.url.path, request.url.path), values=context.pop("values", {}),
            errors=context.pop("errors", {}), **context,
        )
        # no-store: a shared computer at a trygghetspunkt must not keep someone's code or lookup.
        return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})

    async def posted(request: Request) -> tuple[dict[str, list[str]], str]:
        _same_origin(request)
        form = await read_form(request)
        return form, language(request, form)

    def refused(request: Request, exc: _Refused) -> HTMLResponse:
        return render(request, "refused", language(request), status=exc.status, message=exc.text)

    def limited(request: Request, lang: str, *checks: tuple[RateLimiter, str]) -> HTMLResponse | None:
        """The 429 page at the first limit hit (the limits before it have counted the try), else None."""
        for limiter, key in checks:
            wait = limiter.allow(key)
            if wait > 0:
                events["limited"] += 1
                response = render(request, "limited", lang, status=429, minutes=max(1, math.ceil(wait / 60)))
                response.headers["Retry-After"] = str(math.ceil(wait))
                return response
        return None

    def client(request: Request) -> str:
        return request.client.host if request.client else "-"

    @router.get(PREFIX + "")
    async def index(request: Request) -> Response:
        return render(request, "index", language(request))

    @router.get(PREFIX + "/registrera")
    async def register_form(request: Request) -> Response:
        return render(request, "register", language(request))

    @router.post(PREFIX + "/registrera")
    async def register(request: Request) -> Response:
        try:
            form, lang = await posted(request)
        except _Refused as exc:
            return refused(request, exc)
        if (hit := limited(request, lang, (site.registry_limits.write_client, client(request)))) is not None:
            return hit
        values = {"name": _one(form, "name"), "identifier": _one(form, "identifier"), "text": _one(form, "text"),
                  "presets": form.get("presets", [])}
        try:
            # In a thread: the durable commit waits for fsync; the page answers only after it.
            code = await run_in_threadpool(
                registry.register, values["name"], values["identifier"], values["presets"], values["text"]
            )
        except RegistryError as exc:
            return render(request, "register", lang, status=400, values=values, errors=exc.errors)
        return render(request, "registered", lang, code=code)

    @router.get(PREFIX + "/sok")
    async def lookup_form(request: Request) -> Response:
        return render(request, "lookup", language(request))

    @router.post(PREFIX + "/sok")
    async def lookup(request: Request) -> Response:
        try:
            form, lang = await posted(request)
        except _Refused as exc:
            return refused(request, exc)
        limits = site.registry_limits
        name = _one(form, "name")
        hit = limited(request, lang, (limits.lookup_client, client(request)),
                      (limits.lookup_name, normalise_name(name[:MAX_NAME])))
        if hit is not None:
            return hit
        found = await run_in_threadpool(registry.lookup, name, _one(form, "identifier"))
        events["lookups"] += 1
        events["found"] += bool(found)
        # The searcher's own words are not echoed back: the miss page is byte-for-byte the same.
        return render(request, "result", lang, found=found)

    @router.get(PREFIX + "/andra")
    async def change_form(request: Request) -> Response:
        return render(request, "change", language(request))

    @router.post(PREFIX + "/andra")
    async def add_update(request: Request) -> Response:
        try:
            form, lang = await posted(request)
        except _Refused as exc:
            return refused(request, exc)
        if (hit := limited(request, lang, (site.registry_limits.write_client, client(request)))) is not None:
            return hit
        values = {"text": _one(form, "text"), "presets": form.get("presets", [])}
        try:
            ok = await run_in_threadpool(registry.add_update, _one(form, "code"), values["presets"], values["text"])
        except RegistryError as exc:
            return render(request, "change", lang, status=400, values=values, errors=exc.errors)
        if not ok:
            return render(request, "change", lang, status=404, values=values, errors={"code": "bad_code"})
        return render(request, "done", lang, message="updated")

    @router.post(PREFIX + "/ta-bort")
    async def delete(request: Request) -> Response:
        try:
            form, lang = await posted(request)
        except _Refused as exc:
            return refused(request, exc)
        if (hit := limited(request, lang, (site.registry_limits.write_client, client(request)))) is not None:
            return hit
        if not await run_in_threadpool(registry.delete, _one(form, "code")):
            return render(request, "change", lang, status=404, errors={"delete_code": "bad_code"})
        return render(request, "done", lang, message="deleted")

    def staff(request: Request) -> tuple[str, str] | None:
        token = request.cookies.get(SESSION_COOKIE)
        return site.store.session(_hash(token)) if token else None

    async def staff_page(request: Request, status: int = 200, **context: Any) -> HTMLResponse:
        who = staff(request)
        assert who is not None
        counts = await run_in_threadpool(registry.counts)
        return render(request, "counts", i18n.DEFAULT, status=status, counts={**counts, **events}, user=who[0],
                      csrf=who[1], **context)

    @router.get("/redaktion/anhoriga")
    async def staff_counts(request: Request) -> Response:
        # The crisis staff see how much the registry is used, never who is in it.
        if staff(request) is None:
            return RedirectResponse("/redaktion/logga-in", status_code=303)
        return await staff_page(request)

    @router.post("/redaktion/anhoriga/registrera")
    async def staff_register(request: Request) -> Response:
        # Staff at a trygghetspunkt register someone who cannot use the form themselves.
        who = staff(request)
        if who is None:
            return RedirectResponse("/redaktion/logga-in", status_code=303)
        try:
            _same_origin(request)
            form = await read_form(request)
            if not hmac.compare_digest(_one(form, "csrf").encode(), who[1].encode()):
                raise _Refused(403, "Formulärets säkerhetskod stämmer inte. Ladda om sidan och försök igen.")
        except _Refused as exc:
            return refused(request, exc)
        values = {"name": _one(form, "name"), "identifier": _one(form, "identifier"), "text": _one(form, "text"),
                  "presets": form.get("presets", [])}
        try:
            code = await run_in_threadpool(
                registry.register, values["name"], values["identifier"], values["presets"], values["text"]
            )
        except RegistryError as exc:
            return await staff_page(request, status=400, values=values, errors=exc.errors)
        # The audit says who registered someone, never whom: the log is read by more people.
        await run_in_threadpool(site.store.log_action, who[0], "registry-register", "registrerade en person")
        return render(request, "registered", i18n.DEFAULT, code=code)

    return router
