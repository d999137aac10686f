"""Shared helpers for the crisis site's tests: the app in-process, over httpx's ASGI transport."""

from __future__ import annotations

from pathlib import Path

import httpx
import yaml

from services.crisis_site import SiteConfig, create_app
from services.crisis_site.app import DEMO_CONTENT


def demo() -> dict:
    return yaml.safe_load(DEMO_CONTENT.read_text(encoding="utf-8"))


def client_for(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://krisinfo.kommun.example")


def app_with(tmp_path: Path | None = None, **overrides):
    config = SiteConfig(**overrides)
    if tmp_path is not None and "database" not in overrides:
        config.database = str(tmp_path / "site.sqlite3")
    return create_app(config=config)
