"""The safe-and-well registry's pages: register, look up, add an update or delete with the code.

Plain forms, no JavaScript, in every language the site has (registry_texts.py). Lookups are
POSTed so names and phone numbers never end up in URLs, logs or browser history. Every answer
is no-store.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from services.crisis_site import i18n
from services.crisis_site.editor import SESSION_COOKIE, _hash
from services.crisis_site.forms import Refused, accepted_form, check_csrf
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
from services.crisis_site.registry_texts import texts
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


Form = dict[str, list[str]]
Checks = list[tuple[RateLimiter, str]]

# The language links of a page answering a POST-only path lead to the form it came from.
_FORM_FOR = {f"{PREFIX}/ta-bort": f"{PREFIX}/andra", "/redaktion/anhoriga/registrera": "/redaktion/anhoriga"}


def _one(form: Form, name: str) -> str:
    return form.get(name, [""])[0]


def registry_router(site: Site) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    events = {"lookups": 0, "found": 0, "limited": 0}  # since start; counts only, never names
    registry = Registry(site.config.database, ttl=site.config.registry_ttl_days * 86400)
    site.registry = registry
    site.registry_limits = Limits()  # read per request, so tests can swap in tighter ones

    def language(request: Request, form: Form | None = None) -> str:
        chosen = _one(form, "lang") if form else request.query_params.get("lang")
        return i18n.choose(chosen, request.headers.get("accept-language"))

    def render(request: Request, page: str, lang: str, status: int = 200, **context: Any) -> HTMLResponse:
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
            days=round(registry.ttl / 86400),
            path=_FORM_FOR.get(request.url.path, request.url.path),
            values=context.pop("values", {}),
            errors=context.pop("errors", {}),
            **context,
        )
        # no-store: a shared computer at a trygghetspunkt must not keep someone's code or lookup.
        return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})

    def limited(request: Request, lang: str, checks: Checks) -> HTMLResponse | None:
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

    def writes(request: Request, form: Form) -> Checks:
        return [(site.registry_limits.write_client, client(request))]

    def lookups(request: Request, form: Form) -> Checks:
        limits = site.registry_limits
        return [
            (limits.lookup_client, client(request)),
            (limits.lookup_name, normalise_name(_one(form, "name")[:MAX_NAME])),
        ]

    def resident_post(path: str, checks: Callable[[Request, Form], Checks]):
        """A resident's form handler, called only with a form that was accepted and is within its limits.

        Every refusal on the way (cross-site, too big, too many fields, too many tries) is a page
        in the resident's language.
        """

        def add(handler: Callable[[Request, Form, str], Awaitable[Response]]):
            async def endpoint(request: Request) -> Response:
                try:
                    form = await accepted_form(request)
                except Refused as exc:
                    lang = language(request)
                    return render(
                        request, "refused", lang, status=exc.status, message=texts(lang)[exc.reason]
                    )
                lang = language(request, form)
                if (hit := limited(request, lang, checks(request, form))) is not None:
                    return hit
                return await handler(request, form, lang)

            router.add_api_route(path, endpoint, methods=["POST"])
            return handler

        return add

    async def register_from(form: Form) -> tuple[dict[str, Any], str | None, dict[str, str]]:
        """(what was typed, the new code or None, the problems per field): the form's registration."""
        values = {
            "name": _one(form, "name"),
            "identifier": _one(form, "identifier"),
            "text": _one(form, "text"),
            "presets": form.get("presets", []),
        }
        try:
            # In a thread: the durable commit waits for fsync; the page answers only after it.
            code = await run_in_threadpool(
                registry.register, values["name"], values["identifier"], values["presets"], values["text"]
            )
        except RegistryError as exc:
            return values, None, exc.errors
        return values, code, {}

    @router.get(PREFIX + "")
    async def index(request: Request) -> Response:
        return render(request, "index", language(request))

    @router.get(PREFIX + "/registrera")
    async def register_form(request: Request) -> Response:
        return render(request, "register", language(request))

    @resident_post(PREFIX + "/registrera", writes)
    async def register(request: Request, form: Form, lang: str) -> Response:
        values, code, errors = await register_from(form)
        if code is None:
            return render(request, "register", lang, status=400, values=values, errors=errors)
        return render(request, "registered", lang, code=code)

    @router.get(PREFIX + "/sok")
    async def lookup_form(request: Request) -> Response:
        return render(request, "lookup", language(request))

    @resident_post(PREFIX + "/sok", lookups)
    async def lookup(request: Request, form: Form, lang: str) -> Response:
        found = await run_in_threadpool(registry.lookup, _one(form, "name"), _one(form, "identifier"))
        events["lookups"] += 1
        events["found"] += bool(found)
        # The searcher's own words are not echoed back: the miss page is byte-for-byte the same.
        return render(request, "result", lang, found=found)

    @router.get(PREFIX + "/andra")
    async def change_form(request: Request) -> Response:
        return render(request, "change", language(request))

    @resident_post(PREFIX + "/andra", writes)
    async def add_update(request: Request, form: Form, lang: str) -> Response:
        values = {"text": _one(form, "text"), "presets": form.get("presets", [])}
        try:
            ok = await run_in_threadpool(
                registry.add_update, _one(form, "code"), values["presets"], values["text"]
            )
        except RegistryError as exc:
            return render(request, "change", lang, status=400, values=values, errors=exc.errors)
        if not ok:
            return render(request, "change", lang, status=404, values=values, errors={"code": "bad_code"})
        return render(request, "done", lang, message="updated")

    @resident_post(PREFIX + "/ta-bort", writes)
    async def delete(request: Request, form: Form, lang: str) -> Response:
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
        return render(
            request,
            "counts",
            i18n.DEFAULT,
            status=status,
            counts={**counts, **events},
            user=who[0],
            csrf=who[1],
            **context,
        )

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
            form = await accepted_form(request)
            check_csrf(_one(form, "csrf"), who[1])
        except Refused as exc:
            # The staff pages are Swedish, as the editor's.
            return render(request, "refused", i18n.DEFAULT, status=exc.status, message=exc.text)
        values, code, errors = await register_from(form)
        if code is None:
            return await staff_page(request, status=400, values=values, errors=errors)
        # The audit says who registered someone, never whom: the log is read by more people.
        await run_in_threadpool(site.store.log_action, who[0], "registry-register", "registrerade en person")
        return render(request, "registered", i18n.DEFAULT, code=code)

    return router
