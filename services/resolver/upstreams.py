"""The upstream servers and what the resolver knows about their health.

Each upstream is up, suspect (it just missed one answer) or down (it missed
``down_after`` in a row, it has been silent for a whole forward budget, or its port
refused us). Client queries go to up ones first,
then suspect ones, never to down ones: while every upstream is down nobody waits on
them. A down upstream is rechecked by one probe at a time, no more often than every
``recheck_interval`` seconds (RFC 8767 section 5), and is back in use as soon as it answers.

The moment an upstream is found down, queries still waiting on it give up (UpstreamDown):
once one client has waited a whole budget in silence, no other waits it again.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import struct
import time
from collections.abc import Callable

from dnslib import RCODE

from services.dns import DNSExchangeError, DNSRefused, DNSTimeout, exchange
from services.dns.wire import MalformedPacket

from .config import Endpoint, Health
from .stored_answer import OPT_RECORD
from .upstream_sockets import UpstreamSockets, answers_question

log = logging.getLogger(__name__)

UP, SUSPECT, DOWN = "up", "suspect", "down"
# Timers may fire a little early and a query's share of the budget starts a little after
# the budget does: silence this close to the whole budget counts as the whole budget.
_BUDGET_SLACK = 0.9
# A heartbeat asks again twice within its one budget (hedged): on a lossy but working uplink one lost
# packet is not a cut, while a real cut is noticed no later (every try ends with the budget).
HEARTBEAT_TRIES = 3

# on_change(upstream_name, new_state, changed)
StateListener = Callable[[str, str, bool], None]


class UpstreamFailed(Exception):
    """No upstream gave a usable answer; ``unreachable`` when none answered at all."""

    def __init__(self, reason: str, *, unreachable: bool = True) -> None:
        super().__init__(reason)
        self.unreachable = unreachable


class UpstreamDown(DNSExchangeError):
    """The upstream was found down while this query waited on it."""


class Upstream:
    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.name = f"{endpoint.host}:{endpoint.port}"
        self.state = UP
        self.misses = 0
        self.next_recheck = 0.0
        self.probing = False
        # When the oldest query sent since its last answer went out (None: it has answered since).
        self.silent_since: float | None = None
        self.sockets = UpstreamSockets(endpoint.host, endpoint.port)


def query_packet(question: bytes, query_id: int, *, edns: bool = True) -> bytes:
    """A recursive query for ``question`` (a cache key: name on the wire, type, class), with our EDNS."""
    header = struct.pack("!6H", query_id, 0x0100, 1, 0, 0, int(edns))  # RD
    return header + question + (OPT_RECORD if edns else b"")


async def ask(upstream: Upstream, question: bytes, timeout: float, *, edns: bool = True) -> bytes:
    """One question (a cache key) to one upstream; its answer, checked for ID and question, as it came
    (never parsed here: services.resolver.cache stores its bytes). TC is retried over TCP."""
    started = time.monotonic()
    # Over UDP the upstream's shared sockets give the query a fresh random ID, so a forged answer has
    # to guess it, and take only a response with that ID to this question (upstream_sockets.py).
    data = await upstream.sockets.exchange(query_packet(question, 0, edns=edns), timeout)
    if data[2] & 0x02:  # TC
        left = timeout - (time.monotonic() - started)
        if left <= 0:
            raise DNSExchangeError("no time left to retry a truncated answer over TCP")
        query_id = secrets.randbits(16)  # a fresh one over TCP too
        host, port = upstream.endpoint.host, upstream.endpoint.port
        data = await exchange(query_packet(question, query_id, edns=edns), host, port, timeout=left, tcp=True)
        if data[:2] != query_id.to_bytes(2, "big") or not answers_question(data, question):
            raise DNSExchangeError(f"the TCP answer from {upstream.name} is not for our query")
    return data


async def hedged_ask(upstream: Upstream, question: bytes, timeout: float) -> bytes:
    """``ask``, started again every ``timeout / HEARTBEAT_TRIES`` until one answers; all end at ``timeout``.

    A slow answer to the first try still counts until the end of the budget, so a loaded uplink is
    no more "down" than with one try; a lost packet on a lossy one no longer is.
    """
    step = timeout / HEARTBEAT_TRIES

    async def attempt(n: int) -> bytes:
        await asyncio.sleep(n * step)
        return await ask(upstream, question, timeout - n * step)

    attempts = [asyncio.ensure_future(attempt(n)) for n in range(HEARTBEAT_TRIES)]
    try:
        failure: Exception = DNSTimeout(f"no answer from {upstream.name} within {timeout} s")
        for finished in asyncio.as_completed(attempts):
            try:
                return await finished
            except DNSRefused:
                raise  # nothing listens there: no other try will do better
            except (DNSExchangeError, MalformedPacket) as exc:
                failure = exc
        raise failure
    finally:
        for pending in attempts:
            pending.cancel()


class Upstreams:
    def __init__(
        self,
        endpoints: list[Endpoint],
        health: Health,
        *,
        on_change: StateListener | None = None,
        clock: Callable[[], float] = time.monotonic,
        silence_budget: float | None = None,
    ) -> None:
        self.all = [Upstream(e) for e in endpoints]
        self.health = health
        # The forward budget: an upstream silent this long is down, whatever ``down_after`` says.
        self.silence_budget = silence_budget
        self._on_change = on_change or (lambda name, state, changed: None)
        self._clock = clock
        self._probes: set[asyncio.Task[None]] = set()
        for upstream in self.all:
            self._on_change(upstream.name, upstream.state, False)

    def states(self) -> dict[str, str]:
        return {u.name: u.state for u in self.all}

    def usable(self) -> list[Upstream]:
        """Upstreams worth a client's wait, best first."""
        return [u for u in self.all if u.state == UP] + [u for u in self.all if u.state == SUSPECT]

    def all_down(self) -> bool:
        return all(u.state == DOWN for u in self.all)

    async def ask(self, upstream: Upstream, question: bytes, timeout: float) -> bytes:
        """A client's question to ``upstream``, given up at once (UpstreamDown) if it is found down meanwhile."""
        if upstream.state == DOWN:
            raise UpstreamDown(f"{upstream.name} is down")
        if upstream.silent_since is None:
            upstream.silent_since = self._clock()
        # No task of its own: when the upstream is found down, _set fails the answers waiting on its sockets.
        return await ask(upstream, question, timeout)

    # What happened on an exchange ---------------------------------------------------------
    def answered(self, upstream: Upstream) -> None:
        upstream.misses = 0
        upstream.silent_since = None
        self._set(upstream, UP)

    def missed(self, upstream: Upstream) -> None:
        """A timeout: suspect at once, down after ``down_after`` in a row or a whole budget of silence."""
        upstream.misses += 1
        silent_for = self._clock() - upstream.silent_since if upstream.silent_since is not None else 0.0
        budget_gone = self.silence_budget is not None and silent_for >= self.silence_budget * _BUDGET_SLACK
        down = upstream.misses >= self.health.down_after or budget_gone
        self._set(upstream, DOWN if down else SUSPECT)

    def refused(self, upstream: Upstream) -> None:
        """Its port refused us (ICMP unreachable, TCP reset): nothing listens, down at once."""
        upstream.misses = max(upstream.misses + 1, self.health.down_after)
        self._set(upstream, DOWN)

    def _set(self, upstream: Upstream, state: str) -> None:
        if state == DOWN and upstream.state != DOWN:
            upstream.next_recheck = self._clock() + self.health.recheck_interval
        if state != upstream.state:
            log.warning("upstream %s is now %s", upstream.name, state)
            upstream.state = state
            self._on_change(upstream.name, state, True)
        if state == DOWN:
            upstream.sockets.give_up(UpstreamDown(f"{upstream.name} was found down while we waited"))

    # Rechecks ---------------------------------------------------------------------------------
    def recheck_due(self, question: bytes, timeout: float) -> None:
        """Start one probe for each down upstream whose recheck time has come (with this question)."""
        now = self._clock()
        for upstream in self.all:
            if upstream.state == DOWN and not upstream.probing and now >= upstream.next_recheck:
                upstream.probing = True
                task = asyncio.ensure_future(self._probe(upstream, question, timeout))
                self._probes.add(task)
                task.add_done_callback(self._probes.discard)

    async def _probe(self, upstream: Upstream, question: bytes, timeout: float) -> None:
        try:
            answer = await ask(upstream, question, timeout)
        except (DNSExchangeError, MalformedPacket) as exc:
            log.info("recheck of upstream %s failed: %s", upstream.name, exc)
            upstream.next_recheck = self._clock() + self.health.recheck_interval
        else:
            log.info("recheck of upstream %s answered (%s)", upstream.name, RCODE.get(answer[3] & 0x0F))
            self.answered(upstream)
        finally:
            upstream.probing = False

    async def heartbeat(self, question: bytes, timeout: float) -> None:
        """Ask every upstream once, by the island itself, and record how it went.

        Client queries only reach an upstream on a cache miss; with the answers phones need still
        cached, a cut would go unnoticed. One query per upstream per heartbeat notices it.
        """

        async def one(upstream: Upstream) -> None:
            if upstream.state != DOWN and upstream.silent_since is None:
                upstream.silent_since = self._clock()
            try:
                await hedged_ask(upstream, question, timeout)
            except DNSRefused:
                self.refused(upstream)
            except (DNSExchangeError, MalformedPacket):
                if upstream.state != DOWN:
                    self.missed(upstream)
            else:
                self.answered(upstream)

        await asyncio.gather(*(one(u) for u in self.all))

    async def close(self) -> None:
        for task in list(self._probes):
            task.cancel()
        await asyncio.gather(*self._probes, return_exceptions=True)
        for upstream in self.all:
            upstream.sockets.close()


def failure_kind(exc: Exception) -> str:
    if isinstance(exc, UpstreamDown):
        return "down"  # already counted against it
    if isinstance(exc, DNSRefused):
        return "refused"
    if isinstance(exc, DNSTimeout):
        return "timeout"
    return "bad"
