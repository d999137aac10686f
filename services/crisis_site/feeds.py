"""Feeds in and out: CAP 1.2 XML, a JSON feed shaped like Krisinformation's, and Atom.

Reading is strict: a feed is taken whole or not at all, so a half-broken feed can
never replace good content with part of itself. XML is parsed with defusedxml (no
DTDs, no entities: no billion-laughs, no external entities).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from xml.etree.ElementTree import Element, SubElement, tostring

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException
from pydantic import ValidationError

from services.crisis_site.content import Content, Message, describe_errors

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
ATOM_NS = "http://www.w3.org/2005/Atom"
_C = "{" + CAP_NS + "}"
_A = "{" + ATOM_NS + "}"


class FeedError(ValueError):
    """A feed that must not be applied; the message says why, for the log."""


# Writing -------------------------------------------------------------------------------------


def _sender_id(sender: str) -> str:
    # CAP's <sender> may not hold spaces or commas; the readable name goes in <senderName>.
    return re.sub(r"[^A-Za-z0-9._@-]+", "-", sender).strip("-").lower() or "island"


def _time(value: datetime) -> str:
    return value.isoformat(timespec="seconds")


def _text(parent: Element, tag: str, value: str | None) -> None:
    if value is not None:
        SubElement(parent, tag).text = value


def cap_alert(message: Message) -> Element:
    """One message as a CAP 1.2 <alert> element."""
    alert = Element(_C + "alert")
    _text(alert, _C + "identifier", message.identifier)
    _text(alert, _C + "sender", _sender_id(message.sender))
    _text(alert, _C + "sent", _time(message.sent))
    _text(alert, _C + "status", message.status)
    _text(alert, _C + "msgType", message.msg_type)
    _text(alert, _C + "scope", "Public")
    _text(alert, _C + "references", message.references)
    for info in message.info:
        el = SubElement(alert, _C + "info")
        _text(el, _C + "language", info.language)
        _text(el, _C + "category", "Safety")
        _text(el, _C + "event", info.headline)
        _text(el, _C + "urgency", message.urgency)
        _text(el, _C + "severity", message.severity)
        _text(el, _C + "certainty", message.certainty)
        _text(el, _C + "effective", _time(message.effective) if message.effective else None)
        _text(el, _C + "expires", _time(message.expires) if message.expires else None)
        _text(el, _C + "senderName", message.sender)
        _text(el, _C + "headline", info.headline)
        _text(el, _C + "description", info.description)
        _text(el, _C + "instruction", info.instruction)
        area = SubElement(el, _C + "area")
        _text(area, _C + "areaDesc", message.area)
    return alert


def _xml(root: Element) -> bytes:
    # bytes for any encoding but "unicode" (typeshed says Any for an encoding given as a str)
    body: bytes = tostring(root, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + body


def atom_feed(
    content: Content, messages: Iterable[Message], feed_id: str, title: str, with_cap: bool
) -> bytes:
    """An Atom feed of messages; with_cap puts each CAP <alert> in its entry's content."""
    from xml.etree.ElementTree import register_namespace

    register_namespace("", ATOM_NS)
    register_namespace("cap", CAP_NS)
    feed = Element(_A + "feed")
    _text(feed, _A + "id", feed_id)
    _text(feed, _A + "title", title)
    _text(feed, _A + "updated", _time(content.updated))
    author = SubElement(feed, _A + "author")
    _text(author, _A + "name", content.sender)
    for message in messages:
        info, _ = message.text("sv")
        entry = SubElement(feed, _A + "entry")
        _text(entry, _A + "id", f"urn:odrift:message:{message.identifier}")
        _text(entry, _A + "title", info.headline)
        _text(entry, _A + "updated", _time(message.sent))
        _text(entry, _A + "summary", info.description)
        if with_cap:
            holder = SubElement(entry, _A + "content", {"type": "application/cap+xml"})
            holder.append(cap_alert(message))
    return _xml(feed)


def cap_feed(content: Content) -> bytes:
    return atom_feed(
        content, content.messages, "urn:odrift:cap", f"CAP – {content.municipality}", with_cap=True
    )


def atom(content: Content) -> bytes:
    return atom_feed(
        content, content.messages, "urn:odrift:atom", f"Krisinformation – {content.municipality}", False
    )


def content_json(content: Content) -> bytes:
    return content.model_dump_json(by_alias=True).encode("utf-8")


# Reading -------------------------------------------------------------------------------------


def _child(el: Element, name: str) -> str | None:
    found = el.find(_C + name)
    return found.text.strip() if found is not None and found.text and found.text.strip() else None


def _references(raw: str | None) -> str | None:
    # CAP writes references as "sender,identifier,sent"; the island keeps the identifier.
    if raw is None:
        return None
    first = raw.split()[0]
    parts = first.split(",")
    return parts[1] if len(parts) == 3 else first


def _alert_fields(alert: Element) -> dict[str, Any]:
    infos = alert.findall(_C + "info")
    first = infos[0] if infos else Element("none")
    area = first.find(_C + "area")
    return {
        "identifier": _child(alert, "identifier"),
        "sender": _child(first, "senderName") or _child(alert, "sender"),
        "sent": _child(alert, "sent"),
        "status": _child(alert, "status"),
        "msgType": _child(alert, "msgType"),
        "references": _references(_child(alert, "references")),
        "severity": _child(first, "severity"),
        "urgency": _child(first, "urgency"),
        "certainty": _child(first, "certainty"),
        "effective": _child(first, "effective"),
        "expires": _child(first, "expires"),
        "area": (_child(area, "areaDesc") if area is not None else None),
        "info": [
            {
                "language": (_child(info, "language") or "sv"),
                "headline": _child(info, "headline"),
                "description": _child(info, "description"),
                "instruction": _child(info, "instruction"),
            }
            for info in infos
        ],
    }


def _validate(items: list[dict[str, Any]], where: str) -> list[Message]:
    messages = []
    for index, item in enumerate(items):
        clean = {k: v for k, v in item.items() if v is not None}
        try:
            messages.append(Message.model_validate({**clean, "origin": "central"}))
        except ValidationError as exc:
            ident = item.get("identifier") or f"#{index}"
            raise FeedError(f"{where} {ident}: " + "; ".join(describe_errors(exc)[:5])) from exc
    seen: set[str] = set()
    for m in messages:
        if m.identifier in seen:
            raise FeedError(f"{where} {m.identifier}: the identifier appears twice")
        seen.add(m.identifier)
    return messages


def parse_cap(body: bytes) -> list[Message]:
    """Every CAP 1.2 <alert> in the document (a bare alert, or alerts inside an Atom feed)."""
    try:
        root = SafeET.fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise FeedError(f"refused hostile XML: {type(exc).__name__}") from exc
    except SafeET.ParseError as exc:
        raise FeedError(f"invalid XML: {exc}") from exc
    alerts = [root] if root.tag == _C + "alert" else list(root.iter(_C + "alert"))
    if root.tag not in (_C + "alert", _A + "feed"):
        raise FeedError(f"not a CAP 1.2 alert or an Atom feed of them (root element {root.tag})")
    return _validate([_alert_fields(a) for a in alerts], "CAP alert")


def _kris_item(item: Any, index: int) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise FeedError(f"JSON feed item #{index} is a {type(item).__name__}, not an object")
    area = item.get("Area")
    area_desc = None
    if isinstance(area, list) and area and isinstance(area[0], dict):
        area_desc = area[0].get("Description")
    text = [t for t in (item.get("Preamble"), item.get("BodyText")) if isinstance(t, str) and t.strip()]
    return {
        "identifier": item.get("Identifier"),
        "sender": item.get("SenderName"),
        "sent": item.get("Updated") or item.get("Published"),
        "status": "Actual",
        "msgType": "Alert",
        "severity": "Severe" if item.get("IsVma") is True else "Moderate",
        "urgency": "Immediate" if item.get("IsVma") is True else "Expected",
        "certainty": "Observed",
        "area": area_desc,
        "info": [
            {
                "language": item.get("Language") or "sv",
                "headline": item.get("Headline"),
                "description": "\n\n".join(text) if text else None,
            }
        ],
        "_unpublished": item.get("IsUnpublished") is True,
    }


def parse_krisinformation(body: bytes) -> list[Message]:
    """A JSON list shaped like Krisinformation's news/VMA API; one item per language of a message."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FeedError(f"invalid JSON: {exc}") from exc
    except RecursionError as exc:  # "[[[[..." nested beyond the parser's depth
        raise FeedError("refused JSON nested too deeply") from exc
    if not isinstance(data, list):
        raise FeedError(f"the JSON feed is a {type(data).__name__}, expected a list of items")
    merged: dict[Any, dict[str, Any]] = {}
    for index, raw in enumerate(data):
        item = _kris_item(raw, index)
        if item.pop("_unpublished"):
            continue
        key = item["identifier"]
        if not isinstance(key, str):
            key = f"#{index}"  # validation names it
        if key in merged:
            merged[key]["info"] += item["info"]
        else:
            merged[key] = item
    return _validate(list(merged.values()), "JSON item")


def krisinformation_items(messages: Iterable[Message]) -> list[dict[str, Any]]:
    """Messages in the Krisinformation-like shape (the simulated municipality publishes this)."""
    items = []
    for m in messages:
        for info in m.info:
            items.append(
                {
                    "Identifier": m.identifier,
                    "Updated": _time(m.sent),
                    "Published": _time(m.sent),
                    "Headline": info.headline,
                    "Preamble": info.description,
                    "BodyText": info.instruction or "",
                    "Area": [{"Type": "Municipality", "Description": m.area}],
                    "Language": info.language,
                    "SenderName": m.sender,
                    "IsVma": m.severity in ("Severe", "Extreme"),
                    "IsUnpublished": m.cancelled,
                }
            )
    return items


def parse_feed(body: bytes, content_type: str) -> list[Message]:
    """Pick the reader from the media type (XML for CAP, JSON for the Krisinformation shape)."""
    kind = content_type.split(";")[0].strip().lower()
    if kind.endswith("json"):
        return parse_krisinformation(body)
    if kind.endswith("xml"):
        return parse_cap(body)
    raise FeedError(f"unexpected media type {kind or '(none)'!r}; expected CAP XML or JSON")
