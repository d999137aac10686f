"""Applying the region's events at one place (an island or the hub): refuse, skip or apply.

Applying is idempotent (the registry knows records by their code's hash and messages by their
time and words), so a replay, a redelivery or the same event through two paths changes nothing.
A refused event goes to the quarantine and is counted; nothing stored changes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from services.crisis_site.content import Message
from services.crisis_site.registry import Registry, RemoteDeletion, RemoteNote
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
        save_message: Callable[[Message], bool] | None = None,
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
        return self.apply_batch([(subject, data, stream_seq)])[0]

    def apply_batch(self, received: Sequence[tuple[str, bytes, int | None]]) -> list[str]:
        """Apply received events in order, the registry's in one transaction (one durable commit)."""
        outcomes: list[str] = []
        changes: list[RemoteNote | RemoteDeletion] = []
        waiting: list[int] = []  # outcomes still to fill from the registry's answer, by position
        for subject, data, stream_seq in received:
            event = self._accepted(subject, data, stream_seq)
            if event is None:
                outcomes.append("refused")
            elif event.origin == self.here:
                self.totals.skipped += 1
                outcomes.append("skipped")
            elif isinstance(event, events.NoteEvent | events.DeletionEvent):
                if isinstance(event, events.NoteEvent):
                    changes.append(RemoteNote(event.record, event.update))
                else:
                    changes.append(RemoteDeletion(event.code_hash, event.expires))
                waiting.append(len(outcomes))
                outcomes.append("")
            else:
                outcomes.append(self._message(event))
        if changes:
            for position, change, changed in zip(
                waiting, changes, self.registry.apply_events(changes), strict=True
            ):
                kind = "note" if isinstance(change, RemoteNote) else "delete"
                outcomes[position] = self._count(kind, changed)
        return outcomes

    def _accepted(self, subject: str, data: bytes, stream_seq: int | None) -> events.Event | None:
        """The event, or None after refusing it into the quarantine."""
        try:
            event = events.parse(data, subject)
            if event.origin != subjects.HUB and event.origin not in self.islands:
                raise events.BadEvent(f"{event.origin} is not an island of this region")
            return event
        except events.BadEvent as exc:
            self.quarantine.keep(Refused(self.registry.now(), subject, stream_seq, str(exc), data))
            self.totals.refused += 1
            return None

    def _message(self, event: events.MessageEvent) -> str:
        # The hub's messages go to every island; an island's go up to the hub only.
        for_here = (event.origin == subjects.HUB) != (self.here == subjects.HUB)
        if not for_here or self.save_message is None:
            self.totals.skipped += 1
            return "skipped"
        name = self.islands.get(event.origin, event.origin)
        return self._count("message", self.save_message(stored_message(event.origin, event.message, name)))

    def _count(self, kind: str, changed: bool) -> str:
        if changed:
            self.totals.applied[kind] += 1
            return "applied"
        self.totals.unchanged += 1
        return "unchanged"
