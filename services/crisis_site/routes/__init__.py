"""The site's web layer: one router per part, each in its own module.

- pages.py: the crisis page, its print view, /api, the icon, /healthz
- feeds.py: the page's content as JSON, Atom and CAP
- editor.py: the crisis staff's login and messages (/redaktion)
- registry.py: the safe-and-well registry (/anhoriga) and its staff pages (/redaktion/anhoriga)

They share the running Site (deps.site_of), the staff session (sessions.require_editor and
sessions.editor_form) and one way to turn a form away (forms.Refused, answered by refused() here).
"""

from __future__ import annotations

import math

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from services.crisis_site.forms import Refused, SignedOut
from services.crisis_site.routes import editor, feeds, pages, registry
from services.crisis_site.sessions import LOGIN_PATH


async def refused(request: Request, exc: Exception) -> Response:
    """The one handler for refused forms: the page of the part the form belongs to."""
    assert isinstance(exc, Refused)
    if isinstance(exc, SignedOut):
        return RedirectResponse(LOGIN_PATH, status_code=303)
    site = request.app.state.site
    if registry.owns(request.url.path):
        response: Response = registry.refusal_page(site, request, exc)
    else:
        response = editor.refusal_page(site, exc)
    if exc.retry_after is not None:
        response.headers["Retry-After"] = str(math.ceil(exc.retry_after))
    return response


def include_routes(app: FastAPI) -> None:
    for part in (pages, feeds, editor, registry):
        app.include_router(part.router)
    app.add_exception_handler(Refused, refused)
