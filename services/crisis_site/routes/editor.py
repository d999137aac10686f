"""Publishing on the island: crisis staff log in and publish, update or cancel messages.

Every staff page depends on require_editor and every staff form on editor_form (sessions.py); the
login form carries a double-submit CSRF token. Logins are limited per address and per account
before the password is checked, and the check runs in the site's worker pool, off the event loop.
"""

from __future__ import annotations

import json
import math
import secrets
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.crisis_site import accounts, login_gate
from services.crisis_site.cache import Answer, LimitedAnswer
from services.crisis_site.content import Message
from services.crisis_site.editor import CHOICES, FIELDS, LABELS, build_message, form_values, now
from services.crisis_site.forms import Limited, Refused, accepted_form, check_csrf
from services.crisis_site.routes.deps import SiteDep
from services.crisis_site.sessions import (
    LOGIN_PATH,
    SESSION_COOKIE,
    SESSION_SECONDS,
    STAFF_PREFIX,
    Editor,
    PostedByEditor,
    SignedIn,
    token_hash,
)
from services.crisis_site.site import Site
from services.crisis_site.tls_notice import editor_notice
from services.crisis_site.workers import Busy

LOGIN_CSRF_COOKIE = "krisinfo_login_csrf"

router = APIRouter(prefix=STAFF_PREFIX, include_in_schema=False)


def render(site: Site, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = site.renderer.template("editor.html").render(
        page=name,
        css=site.renderer.css,
        municipality=site.store.content().municipality,
        labels=LABELS,
        choices=CHOICES,
        tls_notice=editor_notice(),
        **context,
    )
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})


def refusal_page(site: Site, exc: Refused) -> HTMLResponse:
    """A refused staff form, in Swedish (app.py's one handler for Refused calls this)."""
    return render(site, "refused", status=exc.status, message=exc.text)


def early_login_answer(site: Site, method: str, client: str) -> Answer | None:
    """The login form or a login refused before it is read (login_gate.early), for the fast path:
    the page is rendered once per wording, so a guesser's refused tries cost no template."""
    refused = login_gate.early(site.login_limits, client, method)
    if refused is None:
        return None
    key = (refused.status, refused.text)
    page = site.early_refusals.get(key)
    if page is None:
        if len(site.early_refusals) > 64:  # a few wordings (minutes to wait); bounded all the same
            site.early_refusals.clear()
        page = site.early_refusals[key] = bytes(refusal_page(site, refused).body)
    headers = [
        (b"content-type", b"text/html; charset=utf-8"),
        (b"content-length", str(len(page)).encode()),
        (b"cache-control", b"no-store"),
        (b"retry-after", str(math.ceil(refused.retry_after or 0)).encode()),
    ]
    body = b"" if method == "HEAD" else page
    if isinstance(refused, Limited):  # past its tries, not a spent budget: held (serve.py)
        return LimitedAnswer(refused.status, headers, body)
    return refused.status, headers, body


def set_cookie(site: Site, response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    secure = site.config.secure_cookies or request.url.scheme == "https"
    response.set_cookie(
        name, value, max_age=max_age, path=STAFF_PREFIX, httponly=True, samesite="strict", secure=secure
    )


def login_page(
    site: Site, request: Request, status: int = 200, error: str | None = None, username: str = ""
) -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    response = render(site, "login", status=status, csrf=token, error=error, username=username)
    set_cookie(site, response, request, LOGIN_CSRF_COOKIE, token, 3600)
    return response


def dashboard(
    site: Site,
    editor: Editor,
    status: int = 200,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    editing: Message | None = None,
) -> HTMLResponse:
    content = site.store.content()
    island = sorted(site.store.messages("island"), key=lambda m: m.sent, reverse=True)
    return render(
        site,
        "dashboard",
        status=status,
        user=editor.username,
        csrf=editor.csrf,
        content=content,
        island=island,
        values=values
        or {
            "severity": "Severe",
            "urgency": "Immediate",
            "certainty": "Observed",
            "status": "Actual",
            "area": content.municipality,
        },
        errors=errors or {},
        editing=editing,
        budget=site.page_budget(),  # how close the crisis page is to one round trip
        region=region_links(site.config.region_state),
    )


def region_links(state_file: str | None) -> list[dict[str, Any]] | None:
    """At a region's hub: each island's link as the hub's replicator last wrote it (once a second);
    None elsewhere. A missing or half-written file shows as no island known yet."""
    if state_file is None:
        return None
    try:
        islands = json.loads(Path(state_file).read_text(encoding="utf-8")).get("islands", {})
    except (OSError, ValueError):
        islands = {}
    return [
        {
            "name": island.get("display") or name,
            "connected": bool(island.get("connected")),
            "lag": island.get("lag"),
            "last_exchange": (
                datetime.fromtimestamp(island["last_exchange"], UTC) if island.get("last_exchange") else None
            ),
        }
        for name, island in sorted(islands.items())
    ]


def client(request: Request) -> str:
    return request.client.host if request.client else "-"


@router.get("/logga-in")
async def login_form(request: Request, site: SiteDep) -> Response:
    return login_page(site, request)


@router.post("/logga-in")
async def login(request: Request, site: SiteDep) -> Response:
    form = {key: values[0] for key, values in (await accepted_form(request)).items()}
    check_csrf(form.get("csrf", ""), request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24))
    username = form.get("username", "").strip().lower()[:64]
    limits = site.login_limits
    # Checked before the password is hashed: a guesser past a limit costs no CPU.
    refused = login_gate.admit(limits, client(request), username, accounts.check_cost(site.store, username))
    if refused is not None:
        raise refused
    try:
        ok = await site.passwords.run(accounts.verify, site.store, username, form.get("password", ""))
    except Busy:
        raise Refused(503, "busy", retry_after=5) from None
    if not ok:
        limits.failures_per_account.record(username)
        return login_page(site, request, 401, "Fel användarnamn eller lösenord.", username)
    token = secrets.token_urlsafe(32)
    site.store.create_session(
        token_hash(token), username, secrets.token_urlsafe(32), time.time() + SESSION_SECONDS
    )
    response = RedirectResponse(STAFF_PREFIX, status_code=303)
    set_cookie(site, response, request, SESSION_COOKIE, token, SESSION_SECONDS)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=STAFF_PREFIX)
    return response


@router.post("/logga-ut")
async def logout(site: SiteDep, posted: PostedByEditor) -> Response:
    site.store.end_session(token_hash(posted.editor.token), posted.editor.username)
    response = RedirectResponse(LOGIN_PATH, status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=STAFF_PREFIX)
    return response


@router.get("")
async def home(site: SiteDep, editor: SignedIn) -> Response:
    return dashboard(site, editor)


@router.get("/logg")
async def audit(site: SiteDep, editor: SignedIn) -> Response:
    return render(site, "audit", user=editor.username, csrf=editor.csrf, entries=site.store.audit_log())


def island_message(identifier: str, site: SiteDep) -> Message:
    """The path's message, one of the island's own (synced ones are not the editor's to change)."""
    message = site.store.message(identifier)
    if message is None or message.origin != "island":
        raise Refused(404, "no_such_message")
    return message


IslandMessage = Annotated[Message, Depends(island_message)]


@router.get("/meddelanden/{identifier}")
async def edit_form(site: SiteDep, editor: SignedIn, message: IslandMessage) -> Response:
    return dashboard(site, editor, values=form_values(message), editing=message)


@router.post("/meddelanden")
async def publish(site: SiteDep, posted: PostedByEditor) -> Response:
    identifier = f"island-{now():%Y%m%d%H%M%S}-{secrets.token_hex(3)}"
    return save(site, posted.editor, posted.flat(), identifier, "Alert", "publish", None)


@router.post("/meddelanden/{identifier}")
async def update(identifier: str, site: SiteDep, posted: PostedByEditor, old: IslandMessage) -> Response:
    return save(site, posted.editor, posted.flat(), identifier, "Update", "update", old)


@router.post("/meddelanden/{identifier}/upphav")
async def cancel(site: SiteDep, posted: PostedByEditor, old: IslandMessage) -> Response:
    message = old.model_copy(update={"msg_type": "Cancel", "cancelled": True, "sent": now()})
    site.store.save_island_message(message, posted.editor.username, "cancel", old.text("sv")[0].headline)
    return RedirectResponse(STAFF_PREFIX, status_code=303)


def save(
    site: Site,
    editor: Editor,
    form: dict[str, str],
    identifier: str,
    msg_type: str,
    action: str,
    old: Message | None,
) -> Response:
    values = {name: form.get(name, "").strip() for name in FIELDS}
    message, errors = build_message(values, identifier, msg_type, site.store.content().municipality)
    if message is None or errors:
        return dashboard(site, editor, status=400, values=values, errors=errors, editing=old)
    site.store.save_island_message(message, editor.username, action, message.text("sv")[0].headline)
    return RedirectResponse(STAFF_PREFIX, status_code=303)
