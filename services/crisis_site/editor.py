"""Publishing on the island: crisis staff log in and publish, update or cancel messages.

Sessions are random tokens in an HttpOnly, SameSite=Strict cookie (Secure behind TLS);
the store keeps only their hash. Every form carries a CSRF token bound to the session
(the login form a double-submit token), and a cross-site Origin is refused outright.
Messages written here are stored with origin "island", apart from synced ones.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from services.crisis_site import accounts
from services.crisis_site.content import Message, field_path
from services.crisis_site.forms import Refused, accepted_form, check_csrf

if TYPE_CHECKING:
    from services.crisis_site.app import Site

SESSION_COOKIE = "krisinfo_session"
LOGIN_CSRF_COOKIE = "krisinfo_login_csrf"
SESSION_SECONDS = 8 * 3600
PREFIX = "/redaktion"

FIELDS = (
    "headline",
    "description",
    "instruction",
    "headline_en",
    "description_en",
    "instruction_en",
    "area",
    "severity",
    "urgency",
    "certainty",
    "status",
    "expires",
)
CHOICES = {
    "severity": ("Extreme", "Severe", "Moderate", "Minor", "Unknown"),
    "urgency": ("Immediate", "Expected", "Future", "Past", "Unknown"),
    "certainty": ("Observed", "Likely", "Possible", "Unlikely", "Unknown"),
    "status": ("Actual", "Exercise", "Test"),
}
LABELS = {
    "headline": "Rubrik (svenska)",
    "description": "Vad har hänt (svenska)",
    "instruction": "Det här ska du göra (svenska, en punkt per rad)",
    "headline_en": "Rubrik (engelska, frivilligt)",
    "description_en": "Vad har hänt (engelska)",
    "instruction_en": "Det här ska du göra (engelska)",
    "area": "Område",
    "severity": "Allvarlighet",
    "urgency": "Brådska",
    "certainty": "Säkerhet",
    "status": "Typ",
    "expires": "Gäller till (frivilligt)",
}


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC).astimezone()  # the island's local offset, as residents read it


async def _form(request: Request) -> dict[str, str]:
    """A same-site form with one value a field: the editor's forms have no repeated fields."""
    return {key: values[0] for key, values in (await accepted_form(request)).items()}


NO_SUCH_MESSAGE = "Det finns inget meddelande från ön med den beteckningen."


def editor_router(site: Site) -> APIRouter:
    router = APIRouter(prefix=PREFIX, include_in_schema=False)
    store = site.store

    def render(name: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = site.renderer.template("editor.html").render(
            page=name,
            css=site.renderer.css,
            municipality=site.store.content().municipality,
            labels=LABELS,
            choices=CHOICES,
            **context,
        )
        return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})

    def set_cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
        secure = site.config.secure_cookies or request.url.scheme == "https"
        response.set_cookie(
            name, value, max_age=max_age, path=PREFIX, httponly=True, samesite="strict", secure=secure
        )

    def current(request: Request) -> tuple[str, str, str] | None:
        token = request.cookies.get(SESSION_COOKIE)
        if not token:
            return None
        found = store.session(_hash(token))
        return (found[0], found[1], token) if found else None

    async def authorised_form(request: Request) -> tuple[str, dict[str, str]]:
        form = await _form(request)
        who = current(request)
        if who is None:
            raise Refused(401, "signed_out")
        check_csrf(form.get("csrf", ""), who[1])
        return who[0], form

    def refused(exc: Refused) -> HTMLResponse:
        return render("refused", status=exc.status, message=exc.text)

    def login_page(
        request: Request, status: int = 200, error: str | None = None, username: str = ""
    ) -> HTMLResponse:
        token = secrets.token_urlsafe(24)
        response = render("login", status=status, csrf=token, error=error, username=username)
        set_cookie(response, request, LOGIN_CSRF_COOKIE, token, 3600)
        return response

    @router.get("/logga-in")
    async def login_form(request: Request) -> Response:
        return login_page(request)

    @router.post("/logga-in")
    async def login(request: Request) -> Response:
        try:
            form = await _form(request)
            check_csrf(
                form.get("csrf", ""), request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
            )
        except Refused as exc:
            return refused(exc)
        username = form.get("username", "").strip().lower()
        if not accounts.verify(store, username, form.get("password", "")):
            return login_page(request, 401, "Fel användarnamn eller lösenord.", username)
        token = secrets.token_urlsafe(32)
        store.create_session(_hash(token), username, secrets.token_urlsafe(32), time.time() + SESSION_SECONDS)
        response = RedirectResponse(PREFIX, status_code=303)
        set_cookie(response, request, SESSION_COOKIE, token, SESSION_SECONDS)
        response.delete_cookie(LOGIN_CSRF_COOKIE, path=PREFIX)
        return response

    @router.post("/logga-ut")
    async def logout(request: Request) -> Response:
        try:
            username, _ = await authorised_form(request)
        except Refused as exc:
            return refused(exc)
        store.end_session(_hash(request.cookies[SESSION_COOKIE]), username)
        response = RedirectResponse(f"{PREFIX}/logga-in", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path=PREFIX)
        return response

    def dashboard(
        who: tuple[str, str, str],
        status: int = 200,
        values: dict[str, str] | None = None,
        errors: dict[str, str] | None = None,
        editing: Message | None = None,
    ) -> HTMLResponse:
        content = store.content()
        island = sorted(store.messages("island"), key=lambda m: m.sent, reverse=True)
        return render(
            "dashboard",
            status=status,
            user=who[0],
            csrf=who[1],
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
        )

    @router.get("")
    async def home(request: Request) -> Response:
        who = current(request)
        if who is None:
            return RedirectResponse(f"{PREFIX}/logga-in", status_code=303)
        return dashboard(who)

    @router.get("/logg")
    async def audit(request: Request) -> Response:
        who = current(request)
        if who is None:
            return RedirectResponse(f"{PREFIX}/logga-in", status_code=303)
        return render("audit", user=who[0], csrf=who[1], entries=store.audit_log())

    @router.get("/meddelanden/{identifier}")
    async def edit_form(request: Request, identifier: str) -> Response:
        who = current(request)
        if who is None:
            return RedirectResponse(f"{PREFIX}/logga-in", status_code=303)
        message = store.message(identifier)
        if message is None or message.origin != "island":
            return no_such_message()
        return dashboard(who, values=_values(message), editing=message)

    @router.post("/meddelanden")
    async def publish(request: Request) -> Response:
        try:
            username, form = await authorised_form(request)
        except Refused as exc:
            return refused(exc)
        identifier = f"island-{_now():%Y%m%d%H%M%S}-{secrets.token_hex(3)}"
        return _save(request, username, form, identifier, "Alert", "publish", None)

    def no_such_message() -> HTMLResponse:
        return render("refused", status=404, message=NO_SUCH_MESSAGE)

    async def change_island_message(
        request: Request, identifier: str, change: Callable[[str, dict[str, str], Message], Response]
    ) -> Response:
        """Update and cancel: a logged-in editor's form about one of the island's own messages."""
        try:
            username, form = await authorised_form(request)
        except Refused as exc:
            return refused(exc)
        old = store.message(identifier)
        if old is None or old.origin != "island":
            return no_such_message()
        return change(username, form, old)

    @router.post("/meddelanden/{identifier}")
    async def update(request: Request, identifier: str) -> Response:
        def updated(username: str, form: dict[str, str], old: Message) -> Response:
            return _save(request, username, form, identifier, "Update", "update", old)

        return await change_island_message(request, identifier, updated)

    @router.post("/meddelanden/{identifier}/upphav")
    async def cancel(request: Request, identifier: str) -> Response:
        def cancelled(username: str, _: dict[str, str], old: Message) -> Response:
            message = old.model_copy(update={"msg_type": "Cancel", "cancelled": True, "sent": _now()})
            store.save_island_message(message, username, "cancel", old.text("sv")[0].headline)
            return RedirectResponse(PREFIX, status_code=303)

        return await change_island_message(request, identifier, cancelled)

    def _save(
        request: Request,
        username: str,
        form: dict[str, str],
        identifier: str,
        msg_type: str,
        action: str,
        old: Message | None,
    ) -> Response:
        values = {name: form.get(name, "").strip() for name in FIELDS}
        message, errors = _build(values, identifier, msg_type, site.store.content().municipality)
        if errors:
            who = current(request)
            assert who is not None
            return dashboard(who, status=400, values=values, errors=errors, editing=old)
        assert message is not None
        store.save_island_message(message, username, action, message.text("sv")[0].headline)
        return RedirectResponse(PREFIX, status_code=303)

    return router


def _values(message: Message) -> dict[str, str]:
    sv, _ = message.text("sv")
    en = next((i for i in message.info if i.language == "en"), None)
    return {
        "headline": sv.headline,
        "description": sv.description,
        "instruction": sv.instruction or "",
        "headline_en": en.headline if en else "",
        "description_en": en.description if en else "",
        "instruction_en": (en.instruction or "") if en else "",
        "area": message.area,
        "severity": message.severity,
        "urgency": message.urgency,
        "certainty": message.certainty,
        "status": message.status,
        "expires": message.expires.strftime("%Y-%m-%dT%H:%M") if message.expires else "",
    }


def _build(
    values: dict[str, str], identifier: str, msg_type: str, municipality: str
) -> tuple[Message | None, dict[str, str]]:
    """A message from the form, or the problems per field, in Swedish, for the person to fix."""
    errors: dict[str, str] = {}
    for name, allowed in CHOICES.items():
        if values[name] not in allowed:
            errors[name] = "Välj ett av alternativen."
    expires = None
    if values["expires"]:
        try:
            expires = datetime.fromisoformat(values["expires"])
            if expires.tzinfo is None:
                expires = expires.replace(tzinfo=_now().tzinfo)
            if expires <= _now():
                errors["expires"] = "Tiden har redan passerat."
        except ValueError:
            errors["expires"] = "Skriv tiden som ÅÅÅÅ-MM-DD TT:MM."
    english = any(values[f] for f in ("headline_en", "description_en", "instruction_en"))
    if english:
        for name in ("headline_en", "description_en"):
            if not values[name]:
                errors[name] = (
                    "Fyll i både rubrik och text på engelska, eller lämna alla engelska fält tomma."
                )
    info = [
        {
            "language": "sv",
            "headline": values["headline"],
            "description": values["description"],
            "instruction": values["instruction"] or None,
        }
    ]
    if english and not errors.get("headline_en") and not errors.get("description_en"):
        info.append(
            {
                "language": "en",
                "headline": values["headline_en"],
                "description": values["description_en"],
                "instruction": values["instruction_en"] or None,
            }
        )
    try:
        message = Message.model_validate(
            {
                "identifier": identifier,
                "sender": f"{municipality}, krisledningen på plats",
                "sent": _now(),
                "status": values["status"] if "status" not in errors else "Actual",
                "msgType": msg_type,
                "severity": values["severity"] if "severity" not in errors else "Unknown",
                "urgency": values["urgency"] if "urgency" not in errors else "Unknown",
                "certainty": values["certainty"] if "certainty" not in errors else "Unknown",
                "expires": expires if "expires" not in errors else None,
                "area": values["area"],
                "info": info,
                "origin": "island",
            }
        )
    except ValidationError as exc:
        for error in exc.errors():
            loc = tuple(error["loc"])
            name = field_path(loc)
            if loc[:1] == ("info",) and len(loc) >= 3:
                name = str(loc[2]) + ("_en" if loc[1] == 1 else "")
            if error["type"] == "string_too_short":
                text = "Fältet får inte vara tomt."
            elif error["type"] == "string_too_long":
                text = "Texten är för lång."
            else:
                text = str(error["msg"])
            errors.setdefault(name, text)
        return None, errors
    return (None, errors) if errors else (message, {})
