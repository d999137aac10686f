"""The municipality's crisis-information site, served locally on the island."""

from services.crisis_site.app import create_app
from services.crisis_site.content import ContentError, load_content

__all__ = ["ContentError", "create_app", "load_content"]
