"""FastAPI app for the crisis-information site."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.crisis_site.content import Content, load_content
from services.crisis_site.render import PageRenderer

DEMO_CONTENT = Path(__file__).parent / "data" / "demo.yaml"


class SecurityHeadersMiddleware:
    """Adds fixed security headers to every HTTP response, errors included."""

    def __init__(self, app: ASGIApp, headers: dict[str, str]) -> None:
        self.app = app
        self.headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k for k, _ in self.headers}
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message["headers"] = kept + self.headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def security_headers(style_hash: str) -> dict[str, str]:
    # Nothing may load from outside the island; only the hashed inline <style> is allowed.
    csp = (
        f"default-src 'none'; style-src {style_hash}; img-src 'self'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
    return {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }


def create_app(content_path: str | Path | None = None) -> FastAPI:
    """Build the app; content is loaded now so a bad file fails at start (ContentError)."""
    content = load_content(content_path if content_path is not None else DEMO_CONTENT)
    renderer = PageRenderer()

    # docs_url/redoc_url off: those pages load JavaScript from a CDN, unreachable on the island.
    app = FastAPI(
        title="Krisinformation",
        summary="The municipality's crisis information, served on the island network.",
        docs_url=None,
        redoc_url=None,
    )
    # Seam for later content sources: handlers read app.state.content on each request.
    app.state.content = content
    app.state.renderer = renderer
    app.add_middleware(SecurityHeadersMiddleware, headers=security_headers(renderer.style_hash))

    @app.api_route("/", methods=["GET", "HEAD"], response_class=HTMLResponse, include_in_schema=False)
    async def page(request: Request) -> HTMLResponse:
        html = request.app.state.renderer.render(request.app.state.content)
        # no-cache: browsers may keep a copy but must revalidate, so residents see updates.
        return HTMLResponse(html, headers={"Cache-Control": "no-cache"})

    @app.get("/api/crisis.json", response_model=Content)
    async def crisis_json(request: Request, response: Response) -> Content:
        """The same content as the page, as JSON."""
        response.headers["Cache-Control"] = "no-cache"
        return request.app.state.content

    @app.get("/healthz")
    async def healthz(response: Response) -> dict[str, str]:
        response.headers["Cache-Control"] = "no-store"
        return {"status": "ok", "service": "crisis-site"}

    return app
