"""The crisis-information site: the ASGI app and how its parts fit together."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.crisis_site import feeds, i18n
from services.crisis_site.cache import RESOURCES, FastPath, PageCache, language_for, part_for, respond
from services.crisis_site.content import Content, load_seed
from services.crisis_site.paging import PAGE_BUDGET
from services.crisis_site.render import PageRenderer
from services.crisis_site.store import Store

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
        "X-Frame-Options": "DENY",
    }


class CrisisApp(FastAPI):
    """FastAPI, with the cached page answered before the framework's middleware and routing."""

    fast_path: FastPath | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.fast_path is not None and scope["type"] == "http" and await self.fast_path.serve(scope, send):
            return
        await super().__call__(scope, receive, send)


@dataclass(frozen=True)
class PageUse:
    """The first page in one language: its gzip bytes against the budget, and the pages there are."""

    language: str
    gzip_bytes: int
    budget: int
    pages: int

    @property
    def percent(self) -> int:
        return round(100 * self.gzip_bytes / self.budget)


@dataclass
class SiteConfig:
    seed: Path = DEMO_CONTENT
    database: str = ":memory:"
    feed_url: str | None = None
    feed_host: str | None = None  # Host header for the feed when the URL names an address
    poll_interval: float = 30.0
    secure_cookies: bool = False  # set behind TLS; the island itself serves plain HTTP
    fast_path: bool = True
    registry_ttl_days: float = 30.0  # safe-and-well records are deleted for real after this


class Site:
    """The running site's parts, shared by the page, the editor and the sync."""

    def __init__(self, config: SiteConfig) -> None:
        self.config = config
        seed = load_seed(config.seed)  # a bad seed fails at start (ContentError)
        self.store = Store(config.database)
        self.store.seed(seed)
        self.renderer = PageRenderer()
        self.cache = PageCache(self.store, self._build)
        self.security = security_headers(self.renderer.style_hash)

    def content(self) -> Content:
        return self.store.content(feed=self.config.feed_url)

    def _build(self, kind: str, language: str) -> tuple[list[bytes], str]:
        content = self.content()
        if kind == "page":  # in parts within the first round trip (paging.py)
            return self.renderer.render_pages(content, language), "text/html; charset=utf-8"
        if kind == "print":  # the notice board gets every message on one sheet
            return [
                self.renderer.render(content, language, print_view=True).encode()
            ], "text/html; charset=utf-8"
        if kind == "json":
            return [feeds.content_json(content)], "application/json"
        if kind == "atom":
            return [feeds.atom(content)], "application/atom+xml; charset=utf-8"
        if kind == "cap":
            return [feeds.cap_feed(content)], "application/xml; charset=utf-8"
        raise KeyError(kind)

    def page_budget(self) -> list[PageUse]:
        """How close the crisis page is to its budget, per language, from the pages served now."""
        uses = []
        for language in i18n.LANGUAGES.values():
            first = self.cache.get("page", language.tag)
            uses.append(PageUse(language.name, len(first.gzipped), PAGE_BUDGET, first.parts))
        return uses

    def cached_response(self, request: Request, path: str) -> Response:
        kind, localized = RESOURCES[path]
        language = (
            language_for(request.scope["query_string"], request.headers.get("accept-language"))
            if localized
            else i18n.DEFAULT
        )
        part = part_for(request.scope["query_string"]) if kind == "page" else 1
        status, headers, body = respond(self.cache.get(kind, language, part), request.scope["headers"], [])
        response = Response(b"" if request.method == "HEAD" else body, status_code=status)
        response.raw_headers = headers
        return response


def create_app(content_path: str | Path | None = None, config: SiteConfig | None = None) -> FastAPI:
    """Build the app; the seed is loaded now so a bad file fails at start (ContentError)."""
    config = config or SiteConfig()
    if content_path is not None:
        config.seed = Path(content_path)
    site = Site(config)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        poller = None
        if config.feed_url:
            from services.crisis_site.sync import FeedPoller

            poller = FeedPoller(site.store, config.feed_url, config.feed_host, config.poll_interval)
            poller.start()
        try:
            yield
        finally:
            if poller is not None:
                await poller.stop()

    # docs_url/redoc_url off: those pages load JavaScript from a CDN, unreachable on the island.
    app = CrisisApp(
        title="Krisinformation",
        summary="The municipality's crisis information, served on the island network.",
        description=(
            "The crisis page and its data. `/api/crisis.json` is the page's content as JSON; "
            "`/feeds/atom.xml` is an Atom feed of the active messages; `/feeds/cap.xml` is the same "
            "messages as CAP 1.2 alerts inside an Atom feed. All support ETag / If-None-Match and gzip."
        ),
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.site = site
    app.add_middleware(SecurityHeadersMiddleware, headers=site.security)
    if config.fast_path:
        app.fast_path = FastPath(cache=lambda: site.cache, security=site.security)

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    async def page(request: Request) -> Response:
        return site.cached_response(request, "/")

    @app.api_route("/utskrift", methods=["GET", "HEAD"], include_in_schema=False)
    async def print_page(request: Request) -> Response:
        return site.cached_response(request, "/utskrift")

    @app.get(
        "/api/crisis.json",
        response_model=Content,
        summary="The page's content: active messages (CAP-shaped), trygghetspunkter, standing advice, sync state",
    )
    async def crisis_json(request: Request) -> Response:
        return site.cached_response(request, "/api/crisis.json")

    @app.get(
        "/feeds/atom.xml",
        summary="Atom feed of the active messages",
        response_class=Response,
        responses={200: {"content": {"application/atom+xml": {}}}},
    )
    async def atom_feed(request: Request) -> Response:
        return site.cached_response(request, "/feeds/atom.xml")

    @app.get(
        "/feeds/cap.xml",
        summary="The active messages as CAP 1.2 <alert> elements inside an Atom feed",
        response_class=Response,
        responses={200: {"content": {"application/xml": {}}}},
    )
    async def cap_feed(request: Request) -> Response:
        return site.cached_response(request, "/feeds/cap.xml")

    @app.get("/api", include_in_schema=False)
    async def api_page() -> Response:
        # The OpenAPI description as a plain page: Swagger UI would need JavaScript from a CDN.
        spec = app.openapi()
        html = site.renderer.template("api.html").render(
            css=site.renderer.css,
            paths={p: ops for p, ops in spec["paths"].items() if p != "/healthz"},
            fields=spec["components"]["schemas"]["Content"]["properties"],
        )
        return Response(html, media_type="text/html; charset=utf-8", headers={"Cache-Control": "no-cache"})

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:
        # Browsers ask for it on every site; "no icon", cached for a day, instead of a logged 404.
        return Response(status_code=204, headers={"Cache-Control": "max-age=86400"})

    @app.get("/healthz")
    async def healthz(response: Response) -> dict[str, str]:
        response.headers["Cache-Control"] = "no-store"
        return {"status": "ok", "service": "crisis-site"}

    from services.crisis_site.editor import editor_router

    app.include_router(editor_router(site))
    from services.crisis_site.registry_web import registry_router

    app.include_router(registry_router(site))
    return app
