"""The safe-and-well registry's pages: register, look up, add an update or delete with the code.

Plain forms, no JavaScript, in every language the site has (registry_texts.py). Lookups are
POSTed so names and phone numbers never end up in URLs, logs or browser history. Every answer
is no-store. Each answer page says what it is in a data-registry attribute on <main>
(registered, found, not-found, limited, refused, ...): the stable signal probes read.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from services.crisis_site import i18n
from services.crisis_site.forms import Form, Limited, Refused, accepted_form
from services.crisis_site.ratelimit import RateLimiter
from services.crisis_site.registry import (
    MAX_IDENTIFIER,
    MAX_NAME,
    MAX_TEXT,
    PRESETS,
    RegistryError,
    searched_name,
)
from services.crisis_site.registry_texts import texts
from services.crisis_site.render import local_datetime
from services.crisis_site.routes.deps import SiteDep
from services.crisis_site.sessions import PostedByEditor, SignedIn
from services.crisis_site.site import Site

PREFIX = "/anhoriga"
STAFF_PATH = "/redaktion/anhoriga"
# The language links of a page answering a POST-only path lead to the form it came from.
_FORM_FOR = {f"{PREFIX}/ta-bort": f"{PREFIX}/andra", f"{STAFF_PATH}/registrera": STAFF_PATH}

router = APIRouter(include_in_schema=False)


def owns(path: str) -> bool:
    """Whether a refusal on this path is the registry's to show (app.py's one Refused handler asks)."""
    return path.startswith((PREFIX, STAFF_PATH))


def _one(form: Form, name: str) -> str:
    return form.get(name, [""])[0]


def language(request: Request, form: Form | None = None) -> str:
    chosen = _one(form, "lang") if form else request.query_params.get("lang")
    return i18n.choose(chosen, request.headers.get("accept-language"))


def render(
    site: Site, request: Request, page: str, lang: str, status: int = 200, **context: Any
) -> HTMLResponse:
    def when(ts: float) -> str:
        return local_datetime(datetime.fromtimestamp(ts, UTC).astimezone(), lang)

    html = site.renderer.template("registry.html").render(
        page=page,
        css=site.renderer.css,
        municipality=site.store.content().municipality,
        t=texts(lang),
        site_t=i18n.texts(lang),
        lang=i18n.LANGUAGES[lang],
        languages=i18n.LANGUAGES.values(),
        presets=PRESETS,
        max_name=MAX_NAME,
        max_identifier=MAX_IDENTIFIER,
        max_text=MAX_TEXT,
        when=when,
        days=round(site.registry.ttl / 86400),
        path=_FORM_FOR.get(request.url.path, request.url.path),
        values=context.pop("values", {}),
        errors=context.pop("errors", {}),
        **context,
    )
    # no-store: a shared computer at a trygghetspunkt must not keep someone's code or lookup.
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})


def refusal_page(site: Site, request: Request, exc: Refused) -> HTMLResponse:
    """A refused registry form in the resident's language (the staff's pages are Swedish)."""
    lang = i18n.DEFAULT if request.url.path.startswith(STAFF_PATH) else exc.language or language(request)
    if isinstance(exc, Limited):
        return render(site, request, "limited", lang, status=exc.status, minutes=exc.minutes)
    message = texts(lang).get(exc.reason, exc.text)
    return render(site, request, "refused", lang, status=exc.status, message=message)


@dataclass(frozen=True)
class ResidentForm:
    form: Form
    lang: str

    def one(self, name: str) -> str:
        return _one(self.form, name)


async def resident_form(request: Request) -> ResidentForm:
    """A resident's form: accepted (same site, bounded) and in the language the form was in."""
    form = await accepted_form(request)
    return ResidentForm(form, language(request, form))


Posted = Annotated[ResidentForm, Depends(resident_form)]


def within(
    site: Site, posted: ResidentForm, checks: list[tuple[RateLimiter, str]], count: bool = True
) -> None:
    """Limited at the first limit hit (the ones before it have counted the try when count is set)."""
    for limiter, key in checks:
        wait = limiter.allow(key) if count else limiter.wait(key)
        if wait > 0:
            site.registry_events["limited"] += 1
            raise Limited(wait, language=posted.lang)


def client(request: Request) -> str:
    return request.client.host if request.client else "-"


async def register_from(site: Site, form: Form) -> tuple[dict[str, Any], str | None, dict[str, str]]:
    """(what was typed, the new code or None, the problems per field): the form's registration."""
    name, identifier, text = _one(form, "name"), _one(form, "identifier"), _one(form, "text")
    presets = form.get("presets", [])
    values: dict[str, Any] = {"name": name, "identifier": identifier, "text": text, "presets": presets}
    try:
        # In a thread: the durable commit waits for fsync; the page answers only after it.
        code = await run_in_threadpool(site.registry.register, name, identifier, presets, text)
    except RegistryError as exc:
        return values, None, exc.errors
    return values, code, {}


# The forms, empty, in the language asked for.
FORM_PAGES = {"": "index", "/registrera": "register", "/sok": "lookup", "/andra": "change"}


def _form_page(page: str) -> Callable[[Request, Site], Awaitable[Response]]:
    async def show(request: Request, site: SiteDep) -> Response:
        return render(site, request, page, language(request))

    return show


for _path, _page in FORM_PAGES.items():
    router.add_api_route(PREFIX + _path, _form_page(_page), methods=["GET"])


@router.post(PREFIX + "/registrera")
async def register(request: Request, site: SiteDep, posted: Posted) -> Response:
    within(site, posted, [(site.registry_limits.write_client, client(request))])
    values, code, errors = await register_from(site, posted.form)
    if code is None:
        return render(site, request, "register", posted.lang, status=400, values=values, errors=errors)
    return render(site, request, "registered", posted.lang, code=code)


@router.post(PREFIX + "/sok")
async def lookup(request: Request, site: SiteDep, posted: Posted) -> Response:
    limits, address = site.registry_limits, client(request)
    # The name as the lookup itself normalises it: no spelling or invisible character makes a new name.
    name = searched_name(posted.one("name"))
    misses = [(limits.lookup_name_client, f"{address}\x00{name}"), (limits.lookup_name, name)]
    within(site, posted, [(limits.lookup_client, address)])
    within(site, posted, misses, count=False)
    found = await run_in_threadpool(site.registry.lookup, posted.one("name"), posted.one("identifier"))
    if not found:  # only misses spend a name's budgets: a relative who knows the identifier spends none
        for limiter, key in misses:
            limiter.record(key)
    site.registry_events["lookups"] += 1
    site.registry_events["found"] += bool(found)
    # The searcher's own words are not echoed back: the miss page is byte-for-byte the same.
    return render(site, request, "result", posted.lang, found=found)


@router.post(PREFIX + "/andra")
async def add_update(request: Request, site: SiteDep, posted: Posted) -> Response:
    within(site, posted, [(site.registry_limits.write_client, client(request))])
    text, presets = posted.one("text"), posted.form.get("presets", [])
    values: dict[str, Any] = {"text": text, "presets": presets}
    try:
        ok = await run_in_threadpool(site.registry.add_update, posted.one("code"), presets, text)
    except RegistryError as exc:
        return render(site, request, "change", posted.lang, status=400, values=values, errors=exc.errors)
    if not ok:
        return render(
            site, request, "change", posted.lang, status=404, values=values, errors={"code": "bad_code"}
        )
    return render(site, request, "done", posted.lang, message="updated")


@router.post(PREFIX + "/ta-bort")
async def delete(request: Request, site: SiteDep, posted: Posted) -> Response:
    within(site, posted, [(site.registry_limits.write_client, client(request))])
    if not await run_in_threadpool(site.registry.delete, posted.one("code")):
        return render(site, request, "change", posted.lang, status=404, errors={"delete_code": "bad_code"})
    return render(site, request, "done", posted.lang, message="deleted")


async def staff_page(
    site: Site, request: Request, username: str, csrf: str, status: int = 200, **context: Any
) -> HTMLResponse:
    counts = await run_in_threadpool(site.registry.counts)
    return render(
        site,
        request,
        "counts",
        i18n.DEFAULT,
        status=status,
        counts={**counts, **site.registry_events},
        user=username,
        csrf=csrf,
        **context,
    )


@router.get(STAFF_PATH)
async def staff_counts(request: Request, site: SiteDep, editor: SignedIn) -> Response:
    # The crisis staff see how much the registry is used, never who is in it.
    return await staff_page(site, request, editor.username, editor.csrf)


@router.post(STAFF_PATH + "/registrera")
async def staff_register(request: Request, site: SiteDep, _: SignedIn, posted: PostedByEditor) -> Response:
    # Staff at a trygghetspunkt register someone who cannot use the form themselves. Signed out,
    # they are sent to the login form (SignedIn, checked first) before the form is read.
    values, code, errors = await register_from(site, posted.form)
    editor = posted.editor
    if code is None:
        return await staff_page(
            site, request, editor.username, editor.csrf, status=400, values=values, errors=errors
        )
    # The audit says who registered someone, never whom: the log is read by more people.
    await run_in_threadpool(
        site.store.log_action, editor.username, "registry-register", "registrerade en person"
    )
    return render(site, request, "registered", i18n.DEFAULT, code=code)
