"""HTML rendering of the crisis page (Jinja2, inline CSS, no JavaScript)."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, select_autoescape
from markupsafe import Markup

from services.crisis_site import i18n
from services.crisis_site.content import Content
from services.crisis_site.paging import PAGE_BUDGET, Shown, paginate

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
        self._message = self._env.get_template("_message.html").module.message  # type: ignore[attr-defined]
        self.css = (templates / "style.css").read_text(encoding="utf-8").strip()
        # CSP hash of the exact <style> contents, so no 'unsafe-inline' is needed.
        self.style_hash = css_hash(self.css)

    def render(self, content: Content, language: str = i18n.DEFAULT, print_view: bool = False) -> str:
        """Every active message on one page: the print view for the notice board."""
        articles = self.articles(content, language)
        return self._page(content, language, articles, 1, Shown(0, len(articles), len(articles)), print_view)

    def render_pages(self, content: Content, language: str, budget: int = PAGE_BUDGET) -> list[bytes]:
        """The crisis page and the pages after it, each within `budget` gzip bytes (paging.py)."""
        articles = self.articles(content, language)

        def layout(part: int, shown: Shown) -> bytes:
            chosen = articles[shown.start : shown.stop]
            return self._page(content, language, chosen, part, shown, False).encode("utf-8")

        return paginate(len(articles), layout, budget)

    def articles(self, content: Content, language: str) -> list[Markup]:
        """Each message's <article>, rendered once; the pages are laid out from these."""
        lang = i18n.LANGUAGES[language]
        t = i18n.texts(language)

        def when(value: datetime) -> str:
            return local_datetime(value, language)

        return [Markup(self._message(m, content, t, lang, when)) for m in content.messages]

    def _page(
        self,
        content: Content,
        language: str,
        articles: list[Markup],
        part: int,
        shown: Shown,
        print_view: bool,
    ) -> str:
        return self._template.render(
            c=content,
            t=i18n.texts(language),
            lang=i18n.LANGUAGES[language],
            languages=i18n.LANGUAGES.values(),
            when=lambda value: local_datetime(value, language),
            css=self.css,
            print_view=print_view,
            articles=articles,
            part=part,
            shown=shown,
        )

    def template(self, name: str) -> Template:  # the editor's pages share the environment and its filters
        return self._env.get_template(name)
