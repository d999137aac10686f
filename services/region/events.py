"""The region's events: what travels between islands, as versioned JSON with stable ids.

Only what the registry already lets leave an island travels (see docs/registry.md): the hashed
lookup key, the code's hash, the name, the times and the messages. Never a phone number or an
address: the registry never had them. Every event is append-only; its id is made from its
content, so the same write published twice (a retry, a replay) has the same id, and JetStream's
`Nats-Msg-Id` drops the copy.

Events from the network are hostile input: `parse` checks each field the way the registry's
file import does and raises BadEvent with the reason.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from services.crisis_site.content import Message
from services.crisis_site.registry import (
    PortableRecord,
    PortableUpdate,
    check_portable_message,
    check_portable_name,
)
from services.region import subjects

VERSION = 1
MAX_BYTES = 64 * 1024
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class BadEvent(ValueError):
    """An event that must not be applied; the message says why (for the operator's quarantine)."""


@dataclass(frozen=True)
class NoteEvent:
    """One message of one safe-and-well record (the record's fields travel with every message, so
    a message arriving before its record's first one still has all it needs)."""

    id: str
    origin: str
    record: PortableRecord
    update: PortableUpdate


@dataclass(frozen=True)
class DeletionEvent:
    id: str
    origin: str
    code_hash: str
    expires: float


@dataclass(frozen=True)
class MessageEvent:
    """A crisis message: from the hub for every island, or from an island for the hub."""

    id: str
    origin: str
    message: Message


Event = NoteEvent | DeletionEvent | MessageEvent


def _digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()[:40]


def note(origin: str, record: PortableRecord, update: PortableUpdate) -> NoteEvent:
    event_id = "n-" + _digest(record.code_hash, update.at, update.presets, update.text)
    return NoteEvent(event_id, origin, record, update)


def deletion(origin: str, code_hash: str, expires: float) -> DeletionEvent:
    return DeletionEvent("d-" + code_hash[:40], origin, code_hash, expires)


def crisis_message(origin: str, message: Message) -> MessageEvent:
    body = message.model_dump(mode="json", by_alias=True)
    return MessageEvent("m-" + _digest(body), origin, message)


def subject_for(event: Event) -> str:
    """Where its origin publishes it: an island in its own stream, the hub in the hub's."""
    kind = subjects.MESSAGES if isinstance(event, MessageEvent) else subjects.REGISTRY
    if event.origin == subjects.HUB:
        return subjects.relayed(subjects.HUB, kind)
    return subjects.subject(event.origin, kind)


def encode(event: Event) -> bytes:
    body: dict[str, Any] = {"v": VERSION, "id": event.id, "origin": event.origin}
    if isinstance(event, NoteEvent):
        r, u = event.record, event.update
        body |= {
            "kind": "note",
            "record": {
                "key": r.key,
                "code_hash": r.code_hash,
                "name": r.name,
                "created": r.created,
                "expires": r.expires,
            },
            "message": {"at": u.at, "presets": u.presets, "text": u.text},
        }
    elif isinstance(event, DeletionEvent):
        body |= {"kind": "delete", "code_hash": event.code_hash, "expires": event.expires}
    else:
        body |= {"kind": "message", "message": event.message.model_dump(mode="json", by_alias=True)}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def _number(value: object, field: str) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise BadEvent(f"{field} must be a number")
    return float(value)


def _hex64(value: object, field: str) -> str:
    if not isinstance(value, str) or not _HEX64.match(value):
        raise BadEvent(f"{field} must be 64 hex digits")
    return value


def parse(data: bytes, subject_name: str) -> Event:
    """The event in `data`, received on `subject_name`; BadEvent if it must not be applied.

    The subject says who published it (the hub lets an island publish only under its own name),
    and the event must say the same: an island cannot speak for another.
    """
    where = subjects.origin_of(subject_name)
    if where is None:
        raise BadEvent(f"not a region subject: {subject_name[:100]}")
    origin, kind = where
    if len(data) > MAX_BYTES:
        raise BadEvent("too large")
    try:
        body = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise BadEvent("not JSON") from None
    if not isinstance(body, dict):
        raise BadEvent("not an object")
    if body.get("v") != VERSION:
        raise BadEvent(f"unknown version {str(body.get('v'))[:20]}")
    if body.get("origin") != origin:
        raise BadEvent(f"origin {str(body.get('origin'))[:40]} published on {origin}'s subject")
    event_id = body.get("id")
    if not isinstance(event_id, str) or not 1 <= len(event_id) <= 80:
        raise BadEvent("bad id")
    expected = {"note": subjects.REGISTRY, "delete": subjects.REGISTRY, "message": subjects.MESSAGES}
    event_kind = body.get("kind")
    if not isinstance(event_kind, str) or expected.get(event_kind) != kind:
        raise BadEvent(f"kind {str(event_kind)[:20]} on subject {subject_name[:100]}")
    try:
        event = _parse_kind(body, origin)
    except (ValueError, TypeError, KeyError) as exc:  # the registry's checks raise ValueError
        raise BadEvent(str(exc)[:200] or "bad field") from None
    if event.id != event_id:
        raise BadEvent("id does not match the content")
    return event


def _parse_kind(body: dict[str, Any], origin: str) -> Event:
    if body["kind"] == "delete":
        return deletion(
            origin, _hex64(body.get("code_hash"), "code_hash"), _number(body.get("expires"), "expires")
        )
    if body["kind"] == "message":
        try:
            message = Message.model_validate(body.get("message"))
        except ValidationError as exc:
            raise BadEvent(f"bad message: {exc.error_count()} errors") from None
        return crisis_message(origin, message)
    r, m = body.get("record"), body.get("message")
    if not isinstance(r, dict) or not isinstance(m, dict):
        raise BadEvent("a note needs a record and a message")
    record = PortableRecord(
        _hex64(r.get("key"), "key"),
        check_portable_name(r.get("name")),
        _hex64(r.get("code_hash"), "code_hash"),
        _number(r.get("created"), "created"),
        _number(r.get("expires"), "expires"),
        [],
    )
    check_portable_message(m.get("presets"), m.get("text"))
    update = PortableUpdate(_number(m.get("at"), "at"), list(m["presets"]), m["text"])
    return note(origin, record, update)
