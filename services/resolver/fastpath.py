"""Precomputed wire answers: a query seen before is answered by patching bytes, not parsing.

The key is the query's flags, counts, question (lower-cased) and EDNS record, exactly
as sent: everything the answer depends on. The stored answer is replayed with the new
query's ID and its question's letter case. It holds local-zone answers, which never
change; cache answers are made from the cache's own bytes (AnswerCache.reply), so that
their TTLs count down.

Most clients ask the same bytes again (same case), so a second table keyed by the raw
bytes after the ID finds those without even walking the question's labels. Its answers
are returned as stored, with whatever ID they were stored with: the server puts the
query's ID on every answer it sends (services.dns.server.FastPath).
"""

from __future__ import annotations

from services.dns.wire import question_end, replay

_MAX_ANSWERS = 20000

# (answer bytes, source, caller's counter slot). Stored answers never expire: they are local and
# island-mode answers, and the resolver clears the table whenever what they depend on changes.
Stored = tuple[bytes, str, int]


def query_key(data: bytes) -> tuple[bytes, int] | None:
    end = question_end(data)
    if end is None:
        return None
    return bytes(data[2:12] + data[12:end].lower() + data[end:]), end


class Replays:
    def __init__(self, max_answers: int = _MAX_ANSWERS) -> None:
        self._answers: dict[bytes, Stored] = {}
        # Keyed by the query's bytes after the ID; read directly by the resolver's hot path.
        self.same_bytes: dict[bytes, Stored] = {}
        self._max = max_answers

    def answer(self, data: bytes) -> Stored | None:
        """What is stored for ``data`` (its answer's ID is not the query's), or None."""
        exact = data[2:]
        stored = self.same_bytes.get(exact)
        if stored is not None:
            return stored  # the very same question: only the ID differs
        keyed = query_key(data)
        if keyed is None:
            return None
        key, end = keyed
        stored = self._answers.get(key)
        if stored is None:
            return None
        reply, source, slot = stored
        stored = (replay(reply, data, end), source, slot)
        self._keep(self.same_bytes, bytes(exact), stored)
        return stored

    def remember(self, data: bytes, reply: bytes, source: str, slot: int = 0) -> None:
        keyed = query_key(data)
        if keyed is None:
            return
        end = keyed[1]
        if reply[12:end].lower() != data[12:end].lower():
            return  # not an answer that echoes this question at the same place
        self._keep(self._answers, keyed[0], (bytes(reply), source, slot))
        self._keep(self.same_bytes, bytes(data[2:]), (bytes(replay(reply, data, end)), source, slot))

    def _keep(self, table: dict[bytes, Stored], key: bytes, stored: Stored) -> None:
        if len(table) >= self._max:
            table.clear()  # rare: cheaper than LRU bookkeeping on the hot path
        table[key] = stored

    def clear(self) -> None:
        self._answers.clear()
        self.same_bytes.clear()
