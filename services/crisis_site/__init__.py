"""The municipality's crisis-information site, served locally on the island.

The names below are loaded when first used, so a tool that needs only a part (the registry's
export and import, registry_cli) does not load the web application and all it imports: that
doubled the export's memory.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from services.crisis_site.app import SiteConfig, create_app
    from services.crisis_site.content import ContentError, load_seed

__all__ = ["ContentError", "SiteConfig", "create_app", "load_seed"]

_HOMES = {"SiteConfig": "app", "create_app": "app", "ContentError": "content", "load_seed": "content"}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f"{__name__}.{_HOMES[name]}"), name)
