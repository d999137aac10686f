"""Precomputed wire answers: a query seen before is answered by patching bytes, not parsing.

The key is the query's flags, counts, question (lower-cased) and EDNS record, exactly
as sent: everything the answer depends on. The stored answer is replayed with the new
query's ID and its question's letter case. Local-zone answers never change; answers
from the cache are replayed for at most a second, so their TTLs still count down.
"""

from __future__ import annotations

from services.dns.wire import question_end, replay

_MAX_ANSWERS = 20000
FOREVER = float("inf")


def query_key(data: bytes) -> tuple[bytes, int] | None:
    end = question_end(data)
    if end is None:
        return None
    return data[2:12] + data[12:end].lower() + data[end:], end


class Replays:
    def __init__(self, max_answers: int = _MAX_ANSWERS) -> None:
        self._answers: dict[bytes, tuple[bytes, float, str, object]] = {}
        self._max = max_answers

    def answer(self, data: bytes, now: float) -> tuple[bytes, str, object] | None:
        """The stored answer for ``data``, its source (``local`` or ``cache``) and the caller's token."""
        keyed = query_key(data)
        if keyed is None:
            return None
        key, end = keyed
        stored = self._answers.get(key)
        if stored is None:
            return None
        reply, until, source, token = stored
        if now >= until:
            del self._answers[key]
            return None
        return replay(reply, data, end), source, token

    def remember(self, data: bytes, reply: bytes, until: float, source: str, token: object = None) -> None:
        keyed = query_key(data)
        if keyed is None:
            return
        end = keyed[1]
        if reply[12:end].lower() != data[12:end].lower():
            return  # not an answer that echoes this question at the same place

        if len(self._answers) >= self._max:
            self._answers.clear()  # rare: cheaper than LRU bookkeeping on the hot path
        self._answers[keyed[0]] = (reply, until, source, token)

    def clear(self) -> None:
        self._answers.clear()
