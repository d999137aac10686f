"""Posted forms on the crisis site: read one with bounds, and turn away what must not be read.

The editor and the safe-and-well registry both take plain HTML forms; this is the one place
that decides when a form is refused, and why.
"""

from __future__ import annotations

import hmac
from urllib.parse import parse_qs, urlsplit

from fastapi import Request

MAX_FORM = 64 * 1024
MAX_FIELDS = 40

# Why a form was turned away, in Swedish (the editor's language). The registry's pages carry the
# ones a resident can meet in every language the site has; see registry_web.PUBLIC_REFUSALS.
REFUSALS = {
    "form_type": "Formuläret måste skickas som application/x-www-form-urlencoded.",
    "form_big": "Formuläret är för stort.",
    "form_fields": "Formuläret har för många fält.",
    "cross_site": "Förfrågan kom från en annan webbplats och avvisades.",
    "csrf": "Formulärets säkerhetskod stämmer inte. Ladda om sidan och försök igen.",
    "signed_out": "Du är inte inloggad.",
}


class Refused(Exception):
    """A form turned away: the HTTP status, and the reason as a key of REFUSALS."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason

    @property
    def text(self) -> str:
        return REFUSALS[self.reason]


def same_origin(request: Request) -> None:
    """A form posted from another site is refused (no Origin, or "null", is a plain form post)."""
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host"):
        raise Refused(403, "cross_site")


async def read_form(request: Request) -> dict[str, list[str]]:
    """A posted form, bounded in size and fields; every field with all its values."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        raise Refused(415, "form_type")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            raise Refused(413, "form_big")
    try:
        return parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except ValueError:
        raise Refused(400, "form_fields") from None


async def accepted_form(request: Request) -> dict[str, list[str]]:
    """The form of a same-site POST, or Refused: what every form handler on the site starts with."""
    same_origin(request)
    return await read_form(request)


def check_csrf(given: str, expected: str) -> None:
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise Refused(403, "csrf")
