"""The running site: its configuration, and the parts every router shares, owned in one place."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastapi import Request
from fastapi.responses import Response

from services.crisis_site import feeds, i18n
from services.crisis_site.cache import RESOURCES, PageCache, language_for, part_for, respond
from services.crisis_site.content import Content, load_seed
from services.crisis_site.island_mode import IslandModeWatch
from services.crisis_site.limits import LoginLimits, RegistryLimits
from services.crisis_site.paging import PAGE_BUDGET
from services.crisis_site.portal import Portal
from services.crisis_site.registry import Registry
from services.crisis_site.render import PageRenderer
from services.crisis_site.store import Store
from services.crisis_site.workers import BoundedPool

DEMO_CONTENT = Path(__file__).parent / "data" / "demo.yaml"


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
    feed_roots: str | None = (
        None  # trusted roots for an https:// feed beside the system's (the TLS settings')
    )
    poll_interval: float = 30.0
    secure_cookies: bool = False  # set behind TLS; the island itself serves plain HTTP
    fast_path: bool = True
    registry_ttl_days: float = 30.0  # safe-and-well records are deleted for real after this
    # The crisis name: requests for any other host name are a phone's check sent here in island
    # mode, answered as a captive portal (portal.py). None: no portal (every Host gets the site).
    crisis_name: str | None = None
    # The island resolver's /metrics, which says whether the island is in island mode (RFC 8908's captive).
    resolver_metrics: str | None = None
    # At a region's hub: the hub replicator's state file (services/region --state-file), whose
    # per-island links the editors' page shows.
    region_state: str | None = None
    # In a region (hub or island): /api/region.json answers the region's convergence check; a lone
    # island has no region and keeps its counts to its staff.
    region: bool = False


def security_headers(style_hash: str) -> dict[str, str]:
    # Nothing may load from outside the island; only the hashed inline <style> is allowed.
    csp = (
        f"default-src 'none'; style-src {style_hash}; img-src 'self'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
    return {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        # same-origin, not no-referrer: under no-referrer a browser sends "Origin: null" with every form
        # post (Fetch), which a sandboxed frame on another site sends too; the forms refuse "null".
        # Other sites still get no referrer.
        "Referrer-Policy": "same-origin",
        "X-Frame-Options": "DENY",
    }


class Site:
    """The store, the registry, the page cache, the limits and the password workers. The app's
    lifespan closes them (close())."""

    def __init__(self, config: SiteConfig) -> None:
        self.config = config
        seed = load_seed(config.seed)  # a bad seed fails at start (ContentError)
        self.store = Store(config.database)
        self.store.seed(seed)
        self.registry = Registry(config.database, ttl=config.registry_ttl_days * 86400)
        self.renderer = PageRenderer()
        self.cache = PageCache(self.store, self._build)
        self.security = security_headers(self.renderer.style_hash)
        # Read per request, so tests can swap in tighter ones.
        self.registry_limits = RegistryLimits()
        self.login_limits = LoginLimits()
        self.early_refusals: dict[tuple[int, str], bytes] = {}  # refused-login pages, rendered once each
        self.registry_events = {"lookups": 0, "found": 0, "limited": 0}  # since start; counts, never names
        self.passwords = BoundedPool(workers=1, queue=8)
        self.portal = Portal(config.crisis_name) if config.crisis_name else None
        self.island_mode = IslandModeWatch(config.resolver_metrics)

    @property
    def public_url(self) -> str:
        """The crisis page as residents open it: by its name."""
        return self.portal.location if self.portal is not None else "/"

    def close(self) -> None:
        self.passwords.close()
        self.registry.close()
        self.store.close()

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
