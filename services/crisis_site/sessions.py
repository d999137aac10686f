"""Editor sessions, and the dependencies that every staff page and staff form start with.

A session is a random token in an HttpOnly, SameSite=Strict cookie (Secure behind TLS); the store
keeps only its hash. Every staff form carries a CSRF token bound to the session.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from services.crisis_site.forms import Form, Refused, SignedOut, accepted_form, check_csrf

SESSION_COOKIE = "krisinfo_session"
SESSION_SECONDS = 8 * 3600
STAFF_PREFIX = "/redaktion"
LOGIN_PATH = STAFF_PREFIX + "/logga-in"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


@dataclass(frozen=True)
class Editor:
    """The signed-in editor of this request: the name, the session's CSRF token, the cookie's token."""

    username: str
    csrf: str
    token: str


@dataclass(frozen=True)
class EditorForm:
    editor: Editor
    form: Form

    def one(self, name: str) -> str:
        return self.form.get(name, [""])[0]

    def flat(self) -> dict[str, str]:
        """One value a field: the editor's own forms have no repeated fields."""
        return {key: values[0] for key, values in self.form.items()}


def current_editor(request: Request) -> Editor | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    found = request.app.state.site.store.session(token_hash(token))
    return Editor(found[0], found[1], token) if found else None


def require_editor(request: Request) -> Editor:
    """A staff page's dependency: the signed-in editor, or a redirect to the login form."""
    editor = current_editor(request)
    if editor is None:
        raise SignedOut()
    return editor


async def editor_form(request: Request) -> EditorForm:
    """A staff form's dependency: a same-site form (refused first, before anything else is looked
    at), from a signed-in editor (else 401), carrying the session's CSRF token (else 403)."""
    form = await accepted_form(request)
    editor = current_editor(request)
    if editor is None:
        raise Refused(401, "signed_out")
    check_csrf(form.get("csrf", [""])[0], editor.csrf)
    return EditorForm(editor, form)


SignedIn = Annotated[Editor, Depends(require_editor)]
PostedByEditor = Annotated[EditorForm, Depends(editor_form)]
