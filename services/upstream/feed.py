"""The municipality's central crisis feed, as the simulated internet serves it.

CAP 1.2 XML (`/api/cap.xml`) and a JSON feed shaped like Krisinformation's
(`/api/feed.json`), both with ETag / If-None-Match / 304. Only in the simulator,
`PUT /_sim/feed` replaces the messages or makes the feed misbehave (broken XML, an XML
bomb, a huge body, wrong types, 500, 429), so tests can check the island's sync.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict

from services.crisis_site.content import Content, Message
from services.crisis_site.feeds import cap_feed, krisinformation_items

BUNDLED = Path(__file__).parent / "data" / "central-feed.yaml"

Mode = Literal["normal", "invalid", "bomb", "huge", "wrong-types", "error", "throttle"]

_BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&lol4;</identifier></alert>
"""
_WRONG_CAP = b"""<?xml version="1.0"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>bad-1</identifier><sender>x</sender>
<sent>yesterday</sent><status>Actual</status><msgType>Alert</msgType>
<info><severity>Very bad</severity><headline>Fel typer</headline><description>x</description>
<area><areaDesc>x</areaDesc></area></info></alert>
"""
_WRONG_JSON = b'[{"Identifier": 42, "Published": 12345, "Headline": ["not", "text"], "IsVma": "yes"}]'


class FeedUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    messages: list[Message] | None = None
    mode: Mode | None = None


class CentralFeed:
    def __init__(self, messages: list[Message] | None = None) -> None:
        if messages is None:
            messages = [
                Message.model_validate(m) for m in yaml.safe_load(BUNDLED.read_text(encoding="utf-8"))
            ]
        self.messages = messages
        self.mode: Mode = "normal"

    def update(self, change: FeedUpdate) -> None:
        if change.messages is not None:
            self.messages = change.messages
        if change.mode is not None:
            self.mode = change.mode

    def state(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "messages": [m.model_dump(mode="json", by_alias=True) for m in self.messages],
        }

    def _body(self, kind: str) -> bytes:
        if kind == "cap":
            hostile = {"invalid": b"<alert><unclosed>", "bomb": _BOMB, "wrong-types": _WRONG_CAP}
        else:
            hostile = {"invalid": b"{not json", "bomb": b"[" * 200_000, "wrong-types": _WRONG_JSON}
        if self.mode in hostile:
            return hostile[self.mode]
        if self.mode == "huge":
            return (
                b"<!-- " + b"x" * (5 * 1024 * 1024) + b" -->"
                if kind == "cap"
                else b" " * (5 * 1024 * 1024) + b"[]"
            )
        if kind == "cap":
            newest = max((m.sent for m in self.messages), default=None)
            content = Content(
                municipality="Sjöbacka kommun",
                sender="Sjöbacka kommun",
                updated=newest or "2025-01-01T00:00:00+00:00",
                messages=self.messages,
            )
            return cap_feed(content)
        return json.dumps(krisinformation_items(self.messages), ensure_ascii=False).encode("utf-8")

    def respond(self, kind: str, if_none_match: str | None) -> tuple[int, dict[str, str], bytes]:
        """(status, headers, body) for the CAP ("cap") or JSON ("json") feed."""
        if self.mode == "error":
            return 500, {"content-type": "text/plain"}, b"internal error"
        if self.mode == "throttle":
            return 429, {"content-type": "text/plain", "retry-after": "1"}, b"too many requests"
        body = self._body(kind)
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        media = "application/xml; charset=utf-8" if kind == "cap" else "application/json"
        headers = {"etag": etag, "cache-control": "no-cache", "content-type": media}
        if if_none_match and etag in [t.strip() for t in if_none_match.split(",")]:
            return 304, {"etag": etag}, b""
        return 200, headers, body
