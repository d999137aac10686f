"""Applying the region's events at one place (an island or the hub): refuse, skip or apply.

Applying is idempotent (the registry knows records by their code's hash and messages by their
time and words), so a replay, a redelivery or the same event through two paths changes nothing.
A refused event goes to the quarantine and is counted; nothing stored changes.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from services.crisis_site.content import Message
from services.crisis_site.registry import Registry
from services.region import events, subjects
from services.region.quarantine import Quarantine, Refused

MESSAGE_PREFIX = "region:"  # identifiers of messages that came through the region (never re-published)


def stored_message(origin: str, message: Message, origin_name: str) -> Message:
    """How a message from `origin` is kept here: its own identifier space, and the sender says where
    it came from (an island's message at the hub shows the island's name)."""
    sender = message.sender if origin == subjects.HUB else f"{message.sender} – {origin_name}"[:200]
    return message.model_copy(
        update={"identifier": f"{MESSAGE_PREFIX}{origin}:{message.identifier}"[:120], "sender": sender}
    )


@dataclass
class Outcome:
    applied: Counter[str] = field(default_factory=Counter)  # by kind: note, delete, message
    unchanged: int = 0  # already known here (a replay)
    skipped: int = 0  # not for this place (our own events, other islands' crisis messages)
    refused: int = 0


class Applier:
    def __init__(
        self,
        here: str,
        registry: Registry,
        quarantine: Quarantine,
        islands: dict[str, str],
        save_message=None,
    ) -> None:
        """`here`: this island's name or "hub"; `islands`: every island's name -> its display name;
        `save_message(message)`: stores a crisis message on this place's page (None: not shown here)."""
        self.here = here
        self.registry = registry
        self.quarantine = quarantine
        self.islands = islands
        self.save_message = save_message
        self.totals = Outcome()

    def apply(self, subject: str, data: bytes, stream_seq: int | None = None) -> str:
        """Apply one received event; returns what happened: applied, unchanged, skipped or refused."""
        try:
            event = events.parse(data, subject)
            if event.origin != subjects.HUB and event.origin not in self.islands:
                raise events.BadEvent(f"{event.origin} is not an island of this region")
        except events.BadEvent as exc:
            self.quarantine.keep(Refused(self.registry.now(), subject, stream_seq, str(exc), data))
            self.totals.refused += 1
            return "refused"
        if event.origin == self.here:
            self.totals.skipped += 1
            return "skipped"
        if isinstance(event, events.NoteEvent):
            changed = self.registry.apply_note(event.record, event.update)
            kind = "note"
        elif isinstance(event, events.DeletionEvent):
            changed = self.registry.apply_deletion(event.code_hash, event.expires)
            kind = "delete"
        else:
            # The hub's messages go to every island; an island's go up to the hub only.
            for_here = (event.origin == subjects.HUB) != (self.here == subjects.HUB)
            if not for_here or self.save_message is None:
                self.totals.skipped += 1
                return "skipped"
            name = self.islands.get(event.origin, event.origin)
            changed = self.save_message(stored_message(event.origin, event.message, name))
            kind = "message"
        if changed:
            self.totals.applied[kind] += 1
            return "applied"
        self.totals.unchanged += 1
        return "unchanged"
