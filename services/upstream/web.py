"""The outside world's web servers, told apart by the Host header.

The municipality's central site with its crisis feed, a few other outside
sites, and the fixed URLs phones probe to decide whether they are online.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response

from .feed import CentralFeed, FeedUpdate

# Host -> path -> (status, content type, body): what each OS expects when it is online.
CONNECTIVITY_CHECKS: dict[str, dict[str, tuple[int, str, str]]] = {
    "connectivitycheck.gstatic.com": {"/generate_204": (204, "text/plain", "")},
    "clients3.google.com": {"/generate_204": (204, "text/plain", "")},
    "captive.apple.com": {
        "/hotspot-detect.html": (
            200,
            "text/html",
            "<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>",
        )
    },
    "www.msftconnecttest.com": {"/connecttest.txt": (200, "text/plain", "Microsoft Connect Test")},
    "detectportal.firefox.com": {
        "/canonical.html": (
            200,
            "text/html",
            '<meta http-equiv="refresh" content="0;url=https://support.mozilla.org/kb/captive-portal"/>',
        ),
        "/success.txt": (200, "text/plain", "success\n"),
    },
    "connectivity-check.ubuntu.com": {"/": (204, "text/plain", "")},
}

MUNICIPALITY_HOSTS = {"kommun.example", "www.kommun.example", "krisinfo.kommun.example"}

_CENTRAL_PAGE = """<!doctype html>
<html lang="sv"><head><meta charset="utf-8"><title>Sjöbacka kommun</title></head>
<body><h1>Sjöbacka kommun</h1>
<p>Kommunens centrala webbplats. Krisinformation finns på krisinfo.kommun.example.</p>
</body></html>
"""


def create_app(feed: CentralFeed | None = None) -> FastAPI:
    app = FastAPI(title="Simulated internet", docs_url=None, redoc_url=None, openapi_url=None)
    feed = feed or CentralFeed()
    app.state.feed = feed

    # Only the simulator has this: tests and people change or break the central feed.
    @app.get("/_sim/feed")
    async def feed_state() -> dict[str, Any]:
        return feed.state()

    @app.put("/_sim/feed")
    async def change_feed(change: FeedUpdate) -> dict[str, Any]:
        feed.update(change)
        return feed.state()

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": "upstream"}

    @app.api_route("/{path:path}", methods=["GET", "HEAD"])
    async def any_host(request: Request, path: str) -> Response:
        host = (request.headers.get("host") or "").split(":")[0].lower().rstrip(".")
        url_path = "/" + path
        checks = CONNECTIVITY_CHECKS.get(host)
        if checks is not None and url_path in checks:
            status, media_type, body = checks[url_path]
            return Response(body, status_code=status, media_type=media_type)
        if host in MUNICIPALITY_HOSTS:
            if url_path in ("/api/cap.xml", "/api/feed.json"):
                kind = "cap" if url_path.endswith(".xml") else "json"
                feed_status, headers, feed_body = feed.respond(kind, request.headers.get("if-none-match"))
                return Response(feed_body, status_code=feed_status, headers=headers)
            if url_path == "/":
                return HTMLResponse(_CENTRAL_PAGE)
        if host.endswith("bank.example") and url_path == "/":
            return HTMLResponse('<!doctype html><html lang="sv"><title>Banken</title><h1>Banken</h1></html>')
        if host.endswith("nyheter.example") and url_path == "/":
            return HTMLResponse(
                '<!doctype html><html lang="sv"><title>Nyheter</title><h1>Nyheter</h1></html>'
            )
        return PlainTextResponse(f"no such page on the simulated internet: {host}{url_path}", status_code=404)

    return app
