"""The island resolver's policy: which questions the island answers itself and how it forwards the rest.

Local zones are answered at once, never waiting on the uplink. Other questions are
answered from the cache, or forwarded to the upstreams that are not known to be down
(identical questions in flight share one upstream query). When no upstream answers,
a client gets the expired answer if there is one (RFC 8767, with Extended DNS Errors),
otherwise SERVFAIL: at once when every upstream is known to be down, within the
forward budget otherwise, never silence.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from dnslib import QTYPE, RCODE, DNSLabel, DNSRecord

from services.dns import DNSExchangeError, Lookup, Zone, Zones, reply_to, servfail
from services.dns.wire import (
    EDE_NO_REACHABLE_AUTHORITY,
    EDE_STALE_ANSWER,
    MAX_NAME_OCTETS,
    MalformedPacket,
    add_extended_errors,
    client_udp_size,
    error_reply_bytes,
    pack_for_udp,
    parse_query,
    parse_response,
    precheck_query,
    question_end,
    refusal_bytes,
)

from .acl import AccessList
from .cache import AnswerCache
from .config import ResolverConfig
from .fastpath import Replays
from .island_mode import CheckNames
from .metrics import SOURCES, Metrics, fast_slot
from .own_zone import OwnZoneNegatives, wire_name
from .ratelimit import RateLimiter, Verdict
from .stored_answer import CLASSIC_UDP_SIZE, key_of, name_of, query_shape
from .upstreams import Upstream, UpstreamFailed, Upstreams, failure_kind

log = logging.getLogger(__name__)

_STALE = (EDE_STALE_ANSWER, "Stale Answer")
_UNREACHABLE = (EDE_NO_REACHABLE_AUTHORITY, "No Reachable Authority")
_REFUSED_SLOT = fast_slot("refused", RCODE.REFUSED)
_CACHE_SLOTS = [fast_slot("cache", rcode) for rcode in range(16)]
_NEGATIVE_SLOTS = [fast_slot("local", rcode) for rcode in range(16)]


class IslandResolver:
    def __init__(self, config: ResolverConfig, metrics: Metrics | None = None) -> None:
        self.config = config
        self.metrics = metrics or Metrics()
        self.zones = Zones([Zone.from_text(z.name, z.data) for z in config.local_zones])
        self._zone_types = {str(DNSLabel(z.name)): z.type for z in config.local_zones}
        static = {str(DNSLabel(z.name)) for z in config.local_zones if z.type == "static"}
        self._island_names = {
            wire_name(name) for zone in self.zones if str(zone.origin) in static for name in zone.names()
        }
        self._own_zone = OwnZoneNegatives([(zone, str(zone.origin) in static) for zone in self.zones])
        self.cache = AnswerCache(config.cache, config.serve_stale)
        # Before the upstreams: they report their first states through _upstream_changed.
        self.island = CheckNames(config.island_mode) if config.island_mode is not None else None
        self._states: dict[str, str] = {}
        self.upstreams = Upstreams(
            config.upstreams,
            config.health,
            on_change=self._upstream_changed,
            silence_budget=config.forward_timeout,
        )
        self.acl = AccessList(config.allow)
        self.rate_limit = RateLimiter(config.rate_limit)
        self.work_limit = RateLimiter(config.rate_limit.for_work())
        self._work_limiting = self.work_limit.enabled
        self.replays = Replays()
        self._in_flight: dict[bytes, asyncio.Future[bytes]] = {}
        self._tasks: set[asyncio.Future[bytes]] = set()
        self._hot = self.metrics.hot
        self._rate_limiting = self.rate_limit.enabled
        self._rate_check = self.rate_limit.check
        self._acl_decisions = self.acl.decisions
        self._same_bytes_answer = self.replays.same_bytes.get
        self._fast_seen = [0] * len(SOURCES)  # fast-path answers per source already in the latency histogram

    def _upstream_changed(self, name: str, state: str, changed: bool) -> None:
        self.metrics.set_upstream_state(name, state, changed=changed)
        self._states[name] = state
        if self.island is not None:
            active = all(s == "down" for s in self._states.values())
            if active != self.island.active:
                self.island.active = active
                self.metrics.island_mode.set(1 if active else 0)
                log.warning("island mode %s", "on: phones' checks go to the portal" if active else "off")
        if changed:
            self.replays.clear()

    # The fast path (services.dns.server.FastPath) -------------------------------------------
    def answer(self, data: bytes, host: str, transport: str) -> bytes | None:
        hot = self._hot
        hot.queries[transport] += 1
        # Limited first, so that refusals cannot be reflected at a spoofed victim at full rate either.
        # The island's own names are answered all the same: their answers are small (no
        # amplification) and ready-made, and residents must get them whoever floods.
        if transport == "udp" and self._rate_limiting:
            verdict = self._rate_check(host)
            if verdict is not Verdict.ANSWER and self._island_name(data):
                verdict = Verdict.ANSWER
            if verdict is Verdict.DROP:
                hot.rate_limited["drop"] += 1
                return b""
            if verdict is Verdict.SLIP:
                hot.rate_limited["slip"] += 1
                return _truncated(data)
        allowed = self._acl_decisions.get(host)
        if allowed is None:
            allowed = self.acl.allows(host)
        if not allowed:
            self.metrics.refused.inc()
            refusal = error_reply_bytes(data, RCODE.REFUSED)
            if refusal is None:
                return b""
            hot.fast[_REFUSED_SLOT] += 1
            return refusal
        if transport != "udp":
            return self._full_path(data, host)  # replays are packed for UDP (maybe truncated); TCP is rare
        # Inlined Replays.answer for the common case, a question asked before in the very same bytes:
        # one dict lookup.
        stored = self._same_bytes_answer(data[2:])
        if stored is None:
            stored = self.replays.answer(data)
            if stored is None:
                return self._not_replayed(data, host)
        reply, _, slot = stored
        hot.fast[slot] += 1
        return reply

    def _not_replayed(self, data: bytes, host: str) -> bytes | None:
        """A query with no stored answer: a made-up name under the island's own zone, the cache, or work."""
        end = question_end(data)
        udp_size = query_shape(data, end) if end is not None and end - 16 <= MAX_NAME_OCTETS else None
        if udp_size is None:
            refusal = self._refusal(data)
            if refusal is not None:
                return refusal
        if end is not None and self.island is not None and self.island.is_check_name(data[12 : end - 4]):
            return None  # the full path: forwarded or island mode's answer, never the cache's
        if udp_size is None or end is None:
            return self._full_path(data, host)
        negative = self._own_zone.answer(data, end, opt=udp_size > 0)
        if negative is not None:
            self._hot.fast[_NEGATIVE_SLOTS[negative[3] & 0xF]] += 1
            return negative
        fresh = self._fresh_from_cache(data, end, udp_size)
        return fresh if fresh is not None else self._full_path(data, host)

    def _refusal(self, data: bytes) -> bytes | None:
        """FORMERR, NOTIMP or BADVERS for a packet the server would refuse before parsing, made here at
        once (b"" to drop what cannot be answered); None for a query the full path may parse. A flood of
        bad packets then costs what a ready answer does, not a task each."""
        try:
            precheck_query(data)
        except MalformedPacket as exc:
            self.metrics.bad_packets.labels("malformed").inc()
            refusal = refusal_bytes(data, exc)
            return self._counted(refusal) if refusal else b""
        return None

    def _fresh_from_cache(self, data: bytes, end: int, udp_size: int) -> bytes | None:
        """A fresh cached answer to a plain query, made from its stored bytes; None takes the full path."""
        key = data[12 : end - 4].lower() + data[end - 4 : end]
        slot = self.cache.fresh_slot(key)
        if slot is None:
            return None
        reply = self.cache.reply(
            slot, data, data[12:end], stale=False, opt=udp_size > 0, limit=udp_size or CLASSIC_UDP_SIZE
        )
        self._hot.cache_hits += 1
        self._count_hit(slot, key)
        self._hot.fast[_CACHE_SLOTS[reply[3] & 0xF]] += 1
        return reply

    def _full_path(self, data: bytes, host: str) -> bytes | None:
        """None to take the full path (parse, cache, upstream), or b"" to drop a query over the
        client's share of it: a full-path answer costs a hundred times a ready one, so one address
        flooding new names must not fill the socket that residents' queries wait in."""
        if not self._work_limiting or self.work_limit.check(host) is Verdict.ANSWER:
            return None
        if self._island_name(data):
            return None
        self._hot.rate_limited["work"] += 1
        return b""

    def _island_name(self, data: bytes) -> bool:
        """Whether ``data`` asks for one of the island's own names: a name with data in a static local zone.

        Only names with data, never any name under the zone: random names under the crisis name
        would otherwise pass every limit and cost the full path each.
        """
        stored = self._same_bytes_answer(data[2:])
        if stored is not None and stored[1] == "local":
            return True  # asked before in these very bytes: one dict lookup
        end = question_end(data)
        return end is not None and data[12 : end - 4].lower() in self._island_names

    def forward(self, data: bytes, host: str, send: Callable[[bytes], None]) -> bool:
        """Forward a plain UDP query for an outside name from its bytes: no parse, no task of its own, and
        the reply made from the bytes just cached, as a cache hit's is (byte for byte the same).

        False leaves it to the full path: a name in a local zone or a check name, a query that is not
        plain, an expired answer to weigh against the client's timer (RFC 8767), no usable upstream.
        """
        end = question_end(data)
        if end is None or end - 16 > MAX_NAME_OCTETS:
            return False
        udp_size = query_shape(data, end)
        name = data[12 : end - 4].lower()
        if (
            udp_size is None
            or self._own_zone.covers(name)
            or (self.island is not None and self.island.is_check_name(name))
        ):
            return False
        key = name + data[end - 4 : end]
        if self.cache.lookup(key) is not None or not self.upstreams.usable():
            return False
        self.metrics.cache_misses.inc()
        started = time.monotonic()

        def answered(future: asyncio.Future[bytes]) -> None:
            reply = self._forwarded_reply(future, data, key, udp_size, started)
            if reply is not None:
                send(reply)

        self._resolve(key).add_done_callback(answered)
        return True

    def _forwarded_reply(
        self, future: asyncio.Future[bytes], data: bytes, key: bytes, udp_size: int, started: float
    ) -> bytes | None:
        if future.cancelled():
            return None  # the resolver is closing
        try:
            slot = self.cache.fresh_slot(key, asked=False) if future.exception() is None else None
            if slot is not None:
                question, opt, limit = data[12 : 12 + len(key)], udp_size > 0, udp_size or CLASSIC_UDP_SIZE
                reply = self.cache.reply(slot, data, question, stale=False, opt=opt, limit=limit)
                source = "upstream"
            else:
                reply, source = self._forwarded_records(future, data, key)
        except Exception:
            log.exception("cannot answer a forwarded query for %s", name_of(key))
            reply, source = error_reply_bytes(data, RCODE.SERVFAIL) or b"", "none"
        self._hot.sources[source] += 1
        self.metrics.latency.observe(source, time.monotonic() - started)
        return self._counted(reply)

    def _forwarded_records(self, future: asyncio.Future[bytes], data: bytes, key: bytes) -> tuple[bytes, str]:
        """What the cache did not keep (a failure, an answer it may not store), as the full path makes it."""
        query = parse_query(data)
        # The failure is read, not raised: raised here, its traceback would keep this frame, which
        # keeps the future holding that failure, a cycle per failed query for the collector to free.
        failure = future.exception()
        if failure is None:
            record, source = self._from_upstream(query, future.result()), "upstream"
        elif isinstance(failure, UpstreamFailed):
            record, source = self._without_upstream(query, key, unreachable=failure.unreachable)
        else:
            raise failure
        return pack_for_udp(record, client_udp_size(query)), source

    def answered_batch(self, count: int, seconds: float) -> None:
        """The server sent ``count`` fast-path answers within ``seconds`` of receiving the first."""
        fast, seen = self._hot.fast, self._fast_seen
        for index, source in enumerate(SOURCES):
            total = sum(fast[index * 16 : (index + 1) * 16])
            if total != seen[index]:
                self.metrics.latency.observe(source, seconds, total - seen[index])
                seen[index] = total

    def sent_unparsed(self, reply: bytes | None) -> None:
        """The server answered a packet it could not parse (FORMERR, NOTIMP) or pack (SERVFAIL)."""
        if reply:
            self._counted(reply)

    def _count_hit(self, slot: int, key: bytes) -> None:
        """A cache hit makes an entry popular; popular entries near expiry are refreshed now."""
        if self.cache.hit(slot) and not self.upstreams.all_down():
            self.cache.prefetching(slot)
            self.metrics.prefetches.inc()
            self._resolve(key)

    def _counted(self, reply: bytes) -> bytes:
        if len(reply) >= 4:
            self._hot.rcodes[reply[3] & 0xF] += 1
        return reply

    def learn(self, data: bytes, query: DNSRecord, response: DNSRecord, reply: bytes, transport: str) -> None:
        self._counted(reply)
        if (
            transport != "udp"
            or response.header.rcode not in (RCODE.NOERROR, RCODE.NXDOMAIN)
            or any(rr.rtype == QTYPE.OPT and rr.rdata for rr in response.ar)
        ):
            return  # SERVFAIL, REFUSED and answers carrying EDE (stale) are decided afresh every time
        # Cache answers are not replayed: the fast path makes them from the cache's bytes, nor are made-up
        # names under the island's own zone (NXDOMAIN; OwnZoneNegatives makes those, and a flood of them
        # would churn the table). Island-mode answers are, like local ones: every change of the upstreams'
        # states clears the replays.
        local = self._local(query)
        if (local is not None and local.rcode != RCODE.NXDOMAIN) or (
            self.island is not None and self.island.answer(query)
        ):
            self.replays.remember(data, reply, "local", fast_slot("local", reply[3] & 0xF))

    # The full path --------------------------------------------------------------------------
    async def handle(self, query: DNSRecord, client: tuple[str, int], transport: str) -> DNSRecord:
        started = time.monotonic()
        if not self.acl.allows(client[0]):
            return reply_to(query, rcode=RCODE.REFUSED)
        reply, source = self._from_local(query) or self._from_island_mode(query) or await self._recurse(query)
        self._hot.sources[source] += 1
        self.metrics.latency.observe(source, time.monotonic() - started)
        return reply

    def _local(self, query: DNSRecord) -> Lookup | None:
        zone = self.zones.find(query.q.qname)
        if zone is None:
            return None
        found = zone.lookup(query.q.qname, query.q.qtype)
        transparent = self._zone_types[str(zone.origin)] == "transparent"
        if transparent and (found.rcode == RCODE.NXDOMAIN or not found.answer):
            return None
        return found

    def _from_local(self, query: DNSRecord) -> tuple[DNSRecord, str] | None:
        found = self._local(query)
        if found is None:
            return None
        reply = reply_to(query, rcode=found.rcode, authoritative=True)
        for rr in found.answer:
            reply.add_answer(rr)
        for rr in found.authority:
            reply.add_auth(rr)
        return reply, "local"

    def _from_island_mode(self, query: DNSRecord) -> tuple[DNSRecord, str] | None:
        reply = self.island.answer(query) if self.island is not None else None
        return (reply, "local") if reply is not None else None

    async def _recurse(self, query: DNSRecord) -> tuple[DNSRecord, str]:
        key = key_of(query.q)
        # A phone's check is never answered from the cache: a cached outside address, still fresh in
        # the seconds before the island notices a cut, would send the check into the cut ("no
        # internet"). Forwarded, it gets the portal's answer when the uplink lets it down.
        checking = self.island is not None and self.island.is_check_name(key[:-4])
        slot = None if checking else self.cache.lookup(key)
        if slot is not None and self.cache.fresh(slot):
            self._hot.cache_hits += 1
            self._count_hit(slot, key)
            return self._from_entry(query, key, slot), "cache"
        self.metrics.cache_misses.inc()
        if not self.upstreams.usable():
            # Every upstream is known down: nobody waits. Maybe it is time to look again.
            self.upstreams.recheck_due(key, self.config.forward_timeout)
            return self._without_upstream(query, key)
        future = self._resolve(key)
        try:
            if slot is not None:
                # RFC 8767 client response timer: a stale answer beats waiting any longer.
                answer = await asyncio.wait_for(
                    asyncio.shield(future), self.config.serve_stale.client_timeout
                )
            else:
                answer = await asyncio.shield(future)
        except (TimeoutError, UpstreamFailed) as exc:
            unreachable = getattr(exc, "unreachable", True)
            return self._without_upstream(query, key, unreachable=unreachable)
        return self._from_upstream(query, answer), "upstream"

    def _without_upstream(
        self, query: DNSRecord, key: bytes, *, unreachable: bool = True
    ) -> tuple[DNSRecord, str]:
        # A phone's check that the uplink let down: the portal, never a stale outside address (which
        # would make the phone say "no internet") nor SERVFAIL (which would too).
        portal = self.island.portal_answer(query) if self.island is not None else None
        if portal is not None:
            return portal, "local"
        # Looked up again: while this query waited, the slot it saw may have been given to another name.
        slot = self.cache.lookup(key)
        if slot is not None and self.cache.servable_stale(slot):
            self.metrics.stale_answers.inc()
            reply = self._from_entry(query, key, slot, stale=True)
            add_extended_errors(reply, [_STALE, _UNREACHABLE] if unreachable else [_STALE])
            return reply, "stale"
        reply = servfail(query)
        if unreachable:
            add_extended_errors(reply, [_UNREACHABLE])
        return reply, "none"

    def _from_entry(self, query: DNSRecord, key: bytes, slot: int, *, stale: bool = False) -> DNSRecord:
        """The cached answer as records, for the full path (stale answers, queries the fast path leaves)."""
        wire = self.cache.reply(slot, bytes(4), key, stale=stale, opt=False, limit=0xFFFF)
        cached = DNSRecord.parse(wire)
        reply = reply_to(query, rcode=cached.header.rcode)
        for rr in cached.rr:
            reply.add_answer(rr)
        for rr in cached.auth:
            reply.add_auth(rr)
        for rr in cached.ar:
            reply.add_ar(rr)
        return reply

    def _from_upstream(self, query: DNSRecord, message: bytes) -> DNSRecord:
        """The reply to a forwarded query that the fast path does not make from the cache's bytes."""
        answer = parse_response(message)
        if self.island is not None:
            self.island.clamp(answer)
        reply = reply_to(query, rcode=answer.header.rcode)
        reply.header.ad = 0
        for rr in answer.rr:
            reply.add_answer(rr)
        for rr in answer.auth:
            reply.add_auth(rr)
        for rr in answer.ar:
            if rr.rtype != QTYPE.OPT:
                reply.add_ar(rr)
        return reply

    # Upstream queries -------------------------------------------------------------------------
    def _resolve(self, key: bytes) -> asyncio.Future[bytes]:
        """The one upstream query for ``key`` (the question on the wire): joined if it is already in flight."""
        future = self._in_flight.get(key)
        if future is not None:
            self.metrics.coalesced.inc()
            return future
        future = asyncio.ensure_future(self._forward(key))
        self._in_flight[key] = future
        self._tasks.add(future)

        def done(task: asyncio.Future[bytes]) -> None:
            self._in_flight.pop(key, None)
            self._tasks.discard(task)
            if not task.cancelled():
                task.exception()  # prefetches nobody awaits: mark the failure as seen
            self.cache.refreshed(key)

        future.add_done_callback(done)
        return future

    async def _forward(self, key: bytes) -> bytes:
        deadline = time.monotonic() + self.config.forward_timeout
        candidates = self.upstreams.usable()
        unreachable = True
        for index, upstream in enumerate(candidates):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            # Share what is left of the budget among the upstreams not yet tried.
            budget = remaining / (len(candidates) - index)
            answer = await self._ask_one(upstream, key, budget)
            if answer is None:
                continue
            unreachable = False
            if answer[3] & 0x0F in (RCODE.SERVFAIL, RCODE.REFUSED):
                continue  # it answered, but not usefully: try the next one
            try:
                if self.island is not None and self.island.is_check_name(key[:-4]):
                    parse_response(answer)  # checked, not kept: a check is never answered from the cache
                else:
                    self._cache(key, answer)
            except MalformedPacket as exc:
                log.debug(
                    "upstream %s sent an unparseable answer for %s: %s", upstream.name, name_of(key), exc
                )
                continue
            return answer
        if self.upstreams.all_down():
            self.upstreams.recheck_due(key, self.config.forward_timeout)
        raise UpstreamFailed(f"no upstream answered {name_of(key)}", unreachable=unreachable)

    def _cache(self, key: bytes, answer: bytes) -> None:
        """Store an upstream's answer as the bytes it came in."""
        self.cache.put_message(key, answer)
        self.metrics.cache_entries.set(len(self.cache))

    async def _ask_one(self, upstream: Upstream, question: bytes, timeout: float) -> bytes | None:
        started = time.monotonic()
        try:
            answer = await self.upstreams.ask(upstream, question, timeout)
        except (DNSExchangeError, MalformedPacket) as exc:
            kind = failure_kind(exc)
            if kind == "timeout":
                self.upstreams.missed(upstream)
            elif kind == "refused":
                self.upstreams.refused(upstream)
            # Debug, not info: in an outage every query fails, and a line each would stall the loop
            # (state changes are logged once, as warnings).
            log.debug("upstream %s failed for %s: %s", upstream.name, name_of(question), exc)
            return None
        self.upstreams.answered(upstream)
        self.metrics.upstream_latency.labels(upstream.name).observe(time.monotonic() - started)
        return answer

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.upstreams.close()


def _truncated(data: bytes) -> bytes:
    """An empty answer with TC set (rate-limit slip): a real client retries over TCP."""
    reply = error_reply_bytes(data, RCODE.NOERROR)
    if not reply:
        return b""
    return reply[:2] + bytes([reply[2] | 0x02]) + reply[3:]


class MetricsPortError(RuntimeError):
    pass


async def serve(config: ResolverConfig) -> None:
    """Run the resolver until cancelled."""
    from services.dns import DNSServer

    resolver = IslandResolver(config)
    if config.metrics is not None:
        try:
            resolver.metrics.serve(config.metrics.host, config.metrics.port)
        except OSError as exc:
            raise MetricsPortError(
                f"cannot serve metrics on {config.metrics.host}:{config.metrics.port}: {exc.strerror}"
            ) from exc
    server = DNSServer(
        resolver.handle,
        config.listen.host,
        config.listen.port,
        fast_path=resolver,
        max_tcp_connections=config.limits.tcp_connections,
        max_tcp_per_client=config.limits.tcp_connections_per_client,
        tcp_idle_seconds=config.limits.tcp_idle_seconds,
        count_problem=lambda kind: resolver.metrics.bad_packets.labels(kind).inc(),
    )
    await server.start()
    heartbeat = (
        asyncio.ensure_future(_heartbeat(resolver, config)) if config.island_mode is not None else None
    )
    try:
        while True:
            # Down upstreams are rechecked even when no client asks, so the state (and
            # `island status`) recovers by itself.
            await asyncio.sleep(min(config.health.recheck_interval, 5.0))
            resolver.upstreams.recheck_due(_RECHECK_QUESTION, config.forward_timeout)
    finally:
        if heartbeat is not None:
            heartbeat.cancel()
        await server.stop()
        await resolver.close()


async def _heartbeat(resolver: IslandResolver, config: ResolverConfig) -> None:
    """Island mode follows the upstreams' health within a heartbeat and a forward budget."""
    assert config.island_mode is not None
    while True:
        await resolver.upstreams.heartbeat(_RECHECK_QUESTION, config.forward_timeout)
        await asyncio.sleep(config.island_mode.heartbeat)


_RECHECK_QUESTION = b"\x00\x00\x02\x00\x01"  # . NS IN, as a cache key
