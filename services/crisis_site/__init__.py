"""The municipality's crisis-information site, served locally on the island."""

from services.crisis_site.app import SiteConfig, create_app
from services.crisis_site.content import ContentError, load_seed

__all__ = ["ContentError", "SiteConfig", "create_app", "load_seed"]
