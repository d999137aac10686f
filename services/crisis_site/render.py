"""HTML rendering of the crisis page (Jinja2, inline CSS, no JavaScript)."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from services.crisis_site.content import Content

TEMPLATES = Path(__file__).parent / "templates"

_MONTHS = (
    "januari", "februari", "mars", "april", "maj", "juni",
    "juli", "augusti", "september", "oktober", "november", "december",
)
_WEEKDAYS = ("måndag", "tisdag", "onsdag", "torsdag", "fredag", "lördag", "söndag")


def swedish_datetime(value: datetime) -> str:
    """'tisdag 14 januari 2025 kl. 08.00' in the offset the author wrote.

    No zone conversion: the island may lack tzdata, and the author's local time is what
    residents expect to read.
    """
    return (
        f"{_WEEKDAYS[value.weekday()]} {value.day} {_MONTHS[value.month - 1]} {value.year}"
        f" kl. {value.hour:02d}.{value.minute:02d}"
    )


class PageRenderer:
    """Renders page.html; the stylesheet is inlined so the page is one request."""

    def __init__(self, templates: Path = TEMPLATES) -> None:
        self._env = Environment(
            loader=FileSystemLoader(templates),
            autoescape=select_autoescape(("html",)),
            undefined=StrictUndefined,  # a typo in the template should fail, not vanish
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._env.filters["swedish_datetime"] = swedish_datetime
        self._template = self._env.get_template("page.html")
        self.css = (templates / "style.css").read_text(encoding="utf-8").strip()
        # CSP hash of the exact <style> contents, so no 'unsafe-inline' is needed.
        digest = hashlib.sha256(self.css.encode("utf-8")).digest()
        self.style_hash = "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"

    def render(self, content: Content) -> str:
        return self._template.render(c=content, css=self.css)
