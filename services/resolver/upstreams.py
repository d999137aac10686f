"""The upstream servers and what the resolver knows about their health.

Each upstream is up, suspect (it just missed one answer) or down (it missed
``down_after`` in a row, or its port refused us). Client queries go to up ones first,
then suspect ones, never to down ones: while every upstream is down nobody waits on
them. A down upstream is rechecked by one probe at a time, no more often than every
``recheck_interval`` seconds (RFC 8767 section 5), and is back in use as soon as it answers.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable

from dnslib import EDNS0, RCODE, DNSHeader, DNSRecord

from services.dns import DNSExchangeError, DNSRefused, DNSTimeout, exchange
from services.dns.client import check_answer
from services.dns.wire import OUR_UDP_SIZE, MalformedPacket, parse_response

from .config import Endpoint, Health

log = logging.getLogger(__name__)

UP, SUSPECT, DOWN = "up", "suspect", "down"

# on_change(upstream_name, new_state, changed)
StateListener = Callable[[str, str, bool], None]


class UpstreamFailed(Exception):
    """No upstream gave a usable answer; ``unreachable`` when none answered at all."""

    def __init__(self, reason: str, *, unreachable: bool = True) -> None:
        super().__init__(reason)
        self.unreachable = unreachable


class Upstream:
    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.name = f"{endpoint.host}:{endpoint.port}"
        self.state = UP
        self.misses = 0
        self.next_recheck = 0.0
        self.probing = False


async def ask(upstream: Upstream, question: DNSRecord, timeout: float, *, edns: bool = True) -> DNSRecord:
    """One question to one upstream; its answer checked for ID and question, TC retried over TCP."""
    # A fresh ID per upstream query, so a forged answer has to guess it.
    outgoing = DNSRecord(DNSHeader(id=secrets.randbelow(0x10000), rd=1), q=question.q)
    if edns:
        outgoing.add_ar(EDNS0(udp_len=OUR_UDP_SIZE))
    packet = outgoing.pack()
    host, port = upstream.endpoint.host, upstream.endpoint.port
    started = time.monotonic()
    answer = parse_response(await exchange(packet, host, port, timeout=timeout))
    check_answer(outgoing, answer)
    if answer.header.tc:
        left = timeout - (time.monotonic() - started)
        if left <= 0:
            raise DNSExchangeError("no time left to retry a truncated answer over TCP")
        answer = parse_response(await exchange(packet, host, port, timeout=left, tcp=True))
        check_answer(outgoing, answer)
    return answer


class Upstreams:
    def __init__(
        self,
        endpoints: list[Endpoint],
        health: Health,
        *,
        on_change: StateListener | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.all = [Upstream(e) for e in endpoints]
        self.health = health
        self._on_change = on_change or (lambda name, state, changed: None)
        self._clock = clock
        self._probes: set[asyncio.Task] = set()
        for upstream in self.all:
            self._on_change(upstream.name, upstream.state, False)

    def states(self) -> dict[str, str]:
        return {u.name: u.state for u in self.all}

    def usable(self) -> list[Upstream]:
        """Upstreams worth a client's wait, best first."""
        return [u for u in self.all if u.state == UP] + [u for u in self.all if u.state == SUSPECT]

    def all_down(self) -> bool:
        return all(u.state == DOWN for u in self.all)

    # What happened on an exchange ---------------------------------------------------------
    def answered(self, upstream: Upstream) -> None:
        upstream.misses = 0
        self._set(upstream, UP)

    def missed(self, upstream: Upstream) -> None:
        """A timeout: suspect at once, down after ``down_after`` in a row."""
        upstream.misses += 1
        self._set(upstream, DOWN if upstream.misses >= self.health.down_after else SUSPECT)

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

    # Rechecks ---------------------------------------------------------------------------------
    def recheck_due(self, question: DNSRecord, timeout: float) -> None:
        """Start one probe for each down upstream whose recheck time has come (with this question)."""
        now = self._clock()
        for upstream in self.all:
            if upstream.state == DOWN and not upstream.probing and now >= upstream.next_recheck:
                upstream.probing = True
                task = asyncio.ensure_future(self._probe(upstream, question, timeout))
                self._probes.add(task)
                task.add_done_callback(self._probes.discard)

    async def _probe(self, upstream: Upstream, question: DNSRecord, timeout: float) -> None:
        try:
            answer = await ask(upstream, question, timeout)
        except (DNSExchangeError, MalformedPacket) as exc:
            log.info("recheck of upstream %s failed: %s", upstream.name, exc)
            upstream.next_recheck = self._clock() + self.health.recheck_interval
        else:
            log.info("recheck of upstream %s answered (%s)", upstream.name, RCODE.get(answer.header.rcode))
            self.answered(upstream)
        finally:
            upstream.probing = False

    async def close(self) -> None:
        for task in list(self._probes):
            task.cancel()
        await asyncio.gather(*self._probes, return_exceptions=True)


def failure_kind(exc: Exception) -> str:
    if isinstance(exc, DNSRefused):
        return "refused"
    if isinstance(exc, DNSTimeout):
        return "timeout"
    return "bad"
