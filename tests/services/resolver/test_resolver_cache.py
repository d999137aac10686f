"""The answer cache's bounds: entries, bytes per entry, nothing for the garbage collector, TTLs on bytes.

Replies are made from the cache's bytes and read back with dnspython (an independent parser);
time is a hand-moved clock.
"""

from __future__ import annotations

import gc
import tracemalloc

import dns.flags
import dns.message
import dns.rcode
import pytest
from dnslib import EDNS0, RCODE, RR, DNSRecord

from services.dns.wire import MalformedPacket
from services.resolver.cache import AnswerCache
from services.resolver.config import Cache, ServeStale
from services.resolver.stored_answer import from_message, key_of, pack, query_shape

SOA = "example. 3600 IN SOA ns.example. host.example. 9 3600 600 86400 60"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_cache(clock: Clock | None = None, **cache: object) -> AnswerCache:
    return AnswerCache(Cache.model_validate(cache), ServeStale(), clock or Clock())


def upstream_answer(name: str, ttl: int = 60, *, negative: bool = False) -> DNSRecord:
    reply = DNSRecord.question(name).reply()
    if negative:
        reply.header.rcode = RCODE.NXDOMAIN
        reply.add_auth(*RR.fromZone(SOA))
    else:
        reply.add_answer(*RR.fromZone(f"{name} {ttl} IN A 192.0.2.1"))
    return reply


def put(cache: AnswerCache, name: str, **kw: object) -> bytes:
    key = key_of(DNSRecord.question(name).q)
    assert cache.put(key, upstream_answer(name, **kw))  # type: ignore[arg-type]
    return key


def ask(cache: AnswerCache, name: str, *, qid: int = 4321, stale: bool = False, **kw: object):
    """The cache's reply to dnspython's query for ``name`` (its letter case kept), parsed by dnspython."""
    query = dns.message.make_query(name, "A", id=qid, **kw).to_wire()
    end = 12 + len(key_of(DNSRecord.question(name).q))
    udp_size = query_shape(query, end)
    assert udp_size is not None
    slot = cache.lookup(query[12 : end - 4].lower() + query[end - 4 : end])
    if slot is None:
        return None
    wire = cache.reply(slot, query, query[12:end], stale=stale, opt=udp_size > 0, limit=udp_size or 512)
    return dns.message.from_wire(wire)


def names(count: int, prefix: str = "n") -> list[str]:
    return [f"{prefix}{i:06d}.random.example" for i in range(count)]


def test_the_cache_never_holds_more_than_max_entries() -> None:
    cache = make_cache(max_entries=100)
    for name in names(1000):
        put(cache, name)
    assert len(cache) == 100
    assert sum(ask(cache, name) is not None for name in names(1000)) == 100


def test_an_answer_asked_again_outlives_a_fill_of_names_asked_once() -> None:
    cache = make_cache(max_entries=100)
    put(cache, "popular.example")
    for name in names(99):
        put(cache, name)
    assert ask(cache, "popular.example") is not None  # asked again: a second chance
    for name in names(99, "fill"):
        put(cache, name)
    assert ask(cache, "popular.example") is not None
    assert ask(cache, names(1)[0]) is None  # asked once: gone first


def test_bytes_per_entry_stay_small_and_the_garbage_collector_sees_none_of_them() -> None:
    answers = [
        (key_of(DNSRecord.question(n).q), upstream_answer(n, negative=i % 2 == 1))
        for i, n in enumerate(names(2_000))
    ]
    cache = make_cache(max_entries=2_000)
    gc.collect()
    tracked_before = len(gc.get_objects())
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for key, answer in answers:
            cache.put(key, answer)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    gc.collect()
    assert len(cache) == 2_000
    assert grown / 2_000 <= 600  # half A answers, half NXDOMAIN with an SOA
    assert len(gc.get_objects()) - tracked_before < 50  # a full collection walks nothing per entry


def test_ttls_count_down_on_the_bytes_with_the_clients_id_and_case() -> None:
    clock = Clock()
    cache = make_cache(clock)
    put(cache, "www.example", ttl=60)
    put(cache, "nx.example", negative=True)
    clock.now += 1.5
    reply = ask(cache, "WwW.ExAmPlE", qid=77)
    negative = ask(cache, "nx.example", use_edns=0)
    assert reply.id == 77 and reply.flags & dns.flags.QR and reply.flags & dns.flags.RA
    assert reply.flags & dns.flags.RD and not reply.flags & dns.flags.AA
    assert str(reply.question[0].name) == "WwW.ExAmPlE."
    assert [(rrset.ttl, rrset[0].to_text()) for rrset in reply.answer] == [(59, "192.0.2.1")]
    assert reply.edns < 0  # the client sent no EDNS
    assert negative.rcode() == dns.rcode.NXDOMAIN and negative.answer == []
    assert negative.authority[0].ttl == 3599 and negative.edns == 0 and negative.payload == 1232
    clock.now += 100
    assert ask(cache, "www.example").answer[0].ttl == 0  # expired: never below zero


def test_expired_answers_are_kept_for_max_stale_and_served_with_the_stale_ttl() -> None:
    clock = Clock()
    cache = AnswerCache(Cache(), ServeStale(max_stale=100), clock)
    key = put(cache, "old.example", ttl=10)
    clock.now += 11
    assert cache.fresh_slot(key) is None  # the fast path leaves it to the full path
    stale = ask(cache, "old.example", stale=True)
    assert stale.answer[0].ttl == 30 and stale.answer[0][0].to_text() == "192.0.2.1"
    clock.now += 100
    assert ask(cache, "old.example") is None
    assert len(cache) == 0


def test_an_answer_too_large_for_the_client_is_truncated_for_a_retry_over_tcp() -> None:
    cache = make_cache()
    name = "big.example"
    answer = DNSRecord.question(name, "A").reply()
    for i in range(40):
        answer.add_answer(*RR.fromZone(f"{name} 60 IN A 192.0.2.{i}"))
    cache.put(key_of(answer.q), answer)
    small = ask(cache, name, use_edns=0, payload=512)
    large = ask(cache, name, use_edns=0, payload=1232)
    assert small.flags & dns.flags.TC and small.answer == [] and small.edns == 0
    assert not large.flags & dns.flags.TC and len(large.answer[0]) == 40


def test_only_plain_queries_are_answered_from_bytes() -> None:
    plain = dns.message.make_query("a.example", "A").to_wire()
    edns = dns.message.make_query("a.example", "A", use_edns=0, payload=4096).to_wire()
    notify = dns.message.make_query("a.example", "A")
    notify.set_opcode(4)
    end = 12 + len(key_of(DNSRecord.question("a.example").q))
    assert query_shape(plain, end) == 0
    assert query_shape(edns, end) == 1232  # at most what the island sends over UDP
    assert query_shape(notify.to_wire(), end) is None
    assert query_shape(plain + b"\x00", end) is None


def test_a_cname_chain_read_back_from_bytes_keeps_every_name() -> None:
    cache = make_cache()
    answer = DNSRecord.question("www.example").reply()
    answer.add_answer(
        *RR.fromZone("www.example. 300 IN CNAME edge.cdn.example.\nedge.cdn.example. 60 IN A 192.0.2.7")
    )
    cache.put(key_of(answer.q), answer)
    reply = ask(cache, "WWW.example")
    assert [(str(r.name).lower(), r.ttl, r[0].to_text()) for r in reply.answer] == [
        ("www.example.", 300, "edge.cdn.example."),
        ("edge.cdn.example.", 60, "192.0.2.7"),
    ]


def test_an_upstream_message_is_stored_as_its_parsed_records_would_be() -> None:
    chain = DNSRecord.question("www.example").reply()
    chain.add_answer(
        *RR.fromZone("www.example. 300 IN CNAME edge.cdn.example.\nedge.cdn.example. 60 IN A 192.0.2.7")
    )
    for answer, expected in (
        (upstream_answer("a.example", ttl=60), (60, False)),
        (upstream_answer("nx.example", negative=True), (60, True)),  # the SOA's MINIMUM caps its TTL
        (chain, (60, False)),
    ):
        answer.add_ar(EDNS0(udp_len=1232))
        key = key_of(answer.q)
        digest = from_message(answer.pack(), 12 + len(key))
        assert digest is not None
        stored, ttl, negative = digest
        assert stored == pack(answer, key) and (ttl, negative) == expected


def test_an_upstream_message_in_an_unusual_shape_is_parsed_or_refused() -> None:
    cache = make_cache()
    odd = upstream_answer("odd.example")
    odd.add_ar(EDNS0(udp_len=1232))
    odd.add_ar(*RR.fromZone("ns.odd.example. 60 IN A 192.0.2.53"))  # an OPT before another record
    key = key_of(odd.q)
    assert from_message(odd.pack(), 12 + len(key)) is None
    assert cache.put_message(key, odd.pack())
    assert ask(cache, "odd.example").answer[0][0].to_text() == "192.0.2.1"
    truncated = upstream_answer("tc.example")
    truncated.header.tc = 1
    assert not cache.put_message(key_of(truncated.q), truncated.pack())
    cut = upstream_answer("cut.example").pack()[:-1]
    assert from_message(cut, 12 + len(key_of(DNSRecord.question("cut.example").q))) is None
    with pytest.raises(MalformedPacket):
        cache.put_message(key_of(DNSRecord.question("cut.example").q), cut)
