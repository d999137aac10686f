"""HTML rendering of the crisis page (Jinja2, inline CSS, no JavaScript)."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from services.crisis_site import i18n
from services.crisis_site.content import Content

TEMPLATES = Path(__file__).parent / "templates"

_MONTHS = (
    "januari",
    "februari",
    "mars",
    "april",
    "maj",
    "juni",
    "juli",
    "augusti",
    "september",
    "oktober",
    "november",
    "december",
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


def local_datetime(value: datetime, language: str) -> str:
    """Swedish words for Swedish pages; elsewhere the unambiguous ISO form, read the same in every script."""
    if language.startswith("sv"):
        return swedish_datetime(value)
    return value.strftime("%Y-%m-%d %H:%M")


def css_hash(css: str) -> str:
    digest = hashlib.sha256(css.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


class PageRenderer:
    """Renders the templates; the stylesheet is inlined so the page is one request."""

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
        self.style_hash = css_hash(self.css)

    def render(self, content: Content, language: str = i18n.DEFAULT, print_view: bool = False) -> str:
        lang = i18n.LANGUAGES[language]
        return self._template.render(
            c=content,
            t=i18n.texts(language),
            lang=lang,
            languages=i18n.LANGUAGES.values(),
            when=lambda value: local_datetime(value, language),
            css=self.css,
            print_view=print_view,
        )

    def template(self, name: str):  # the editor's pages share the environment and its filters
        return self._env.get_template(name)
