"""Posted forms on the crisis site: read one with bounds, and turn away what must not be read.

The editor and the safe-and-well registry both take plain HTML forms; this is the one place
that decides when a form is refused, and why.
"""

from __future__ import annotations

import hmac
import math
from urllib.parse import parse_qs, urlsplit

from fastapi import Request

MAX_FORM = 64 * 1024
MAX_FIELDS = 40

# Why a form was turned away, in Swedish (the editor's language). The registry's pages carry the
# ones a resident can meet in every language the site has; see registry_texts.PUBLIC_REFUSALS.
REFUSALS = {
    "form_type": "Formuläret måste skickas som application/x-www-form-urlencoded.",
    "form_big": "Formuläret är för stort.",
    "form_fields": "Formuläret har för många fält.",
    "cross_site": "Förfrågan kom från en annan webbplats och avvisades.",
    "csrf": "Formulärets säkerhetskod stämmer inte. Ladda om sidan och försök igen.",
    "signed_out": "Du är inte inloggad.",
    "limited": "För många inloggningsförsök på kort tid. Vänta {minutes} minuter och försök igen.",
    "no_such_message": "Det finns inget meddelande från ön med den beteckningen.",
    "busy": "Inloggningen är upptagen just nu. Vänta några sekunder och försök igen.",
}


class Refused(Exception):
    """A form turned away: the HTTP status, the reason as a key of REFUSALS, and the language of the
    page it came from when the form said (the registry's pages are in the resident's language).

    Raised anywhere in a handler or its dependencies; app.py's one handler turns it into a page.
    """

    def __init__(
        self, status: int, reason: str, language: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.language = language
        self.retry_after = retry_after  # seconds, for 429 and 503: sent as Retry-After

    @property
    def minutes(self) -> int:
        return max(1, math.ceil((self.retry_after or 0) / 60))

    @property
    def text(self) -> str:
        return REFUSALS[self.reason].format(minutes=self.minutes)


class Limited(Refused):
    """Too many tries: 429 with Retry-After."""

    def __init__(self, wait: float, reason: str = "limited", language: str | None = None) -> None:
        super().__init__(429, reason, language, retry_after=math.ceil(wait))


class SignedOut(Refused):
    """A staff page asked for without a session: answered by a redirect to the login form."""

    def __init__(self) -> None:
        super().__init__(303, "signed_out")


def same_origin(request: Request) -> None:
    """A form posted from another site is refused. No Origin is an old browser's plain form post;
    "null" is what a sandboxed frame, a data: URL or a file sends, so it is refused like another site."""
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
        raise Refused(403, "cross_site")


Form = dict[str, list[str]]  # every field with all its values


async def read_form(request: Request) -> Form:
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


async def accepted_form(request: Request) -> Form:
    """The form of a same-site POST, or Refused: what every form handler on the site starts with."""
    same_origin(request)
    return await read_form(request)


def check_csrf(given: str, expected: str) -> None:
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise Refused(403, "csrf")
