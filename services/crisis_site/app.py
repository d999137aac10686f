"""The crisis-information site: the ASGI app, its middleware and its lifespan; the routers are in routes/."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.crisis_site.cache import FastPath, send_answer
from services.crisis_site.portal import Portal
from services.crisis_site.routes import include_routes
from services.crisis_site.routes.editor import early_login_answer
from services.crisis_site.sessions import LOGIN_PATH
from services.crisis_site.site import DEMO_CONTENT, Site, SiteConfig

__all__ = ["DEMO_CONTENT", "CrisisApp", "Site", "SiteConfig", "create_app"]


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


class CrisisApp(FastAPI):
    """FastAPI, with the cached page answered before the framework's middleware and routing."""

    fast_path: FastPath | None = None
    portal: Portal | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if self.portal is not None and await send_answer(
                self.portal.answer(scope["method"], scope["headers"]), send
            ):
                return
            if self.fast_path is not None and await self.fast_path.serve(scope, send):
                return
        await super().__call__(scope, receive, send)


def create_app(content_path: str | Path | None = None, config: SiteConfig | None = None) -> CrisisApp:
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

            poller = FeedPoller(
                site.store, config.feed_url, config.feed_host, config.poll_interval, roots=config.feed_roots
            )
            poller.start()
        site.island_mode.start()
        try:
            yield
        finally:
            if poller is not None:
                await poller.stop()
            await site.island_mode.stop()
            site.close()

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
    app.portal = site.portal
    if config.fast_path:
        app.fast_path = FastPath(
            cache=lambda: site.cache,
            security=site.security,
            portal=site.portal,
            login=(LOGIN_PATH, lambda method, client: early_login_answer(site, method, client)),
        )

    include_routes(app)
    return app
