"""Conformance: the resolver as `serve()` runs it (fast path, limits), on real loopback sockets.

Asked with dnspython over UDP and TCP; the outside world is a ControlledUpstream (a real
DNSServer) that answers, black-holes, refuses and comes back. One test per behaviour.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import time

import dns.asyncquery
import dns.edns
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import httpx
from net_helpers import HOST, free_port
from resolver_test_helpers import ControlledUpstream, addresses, ask, timed, world

from services.resolver import IslandResolver
from services.resolver.metrics import upstream_states


def ede_codes(response) -> list[int]:
    return [opt.code for opt in response.options if opt.otype == dns.edns.OptionType.EDE]


async def make_down(port: int, names=("down1.example", "down2.example")) -> None:
    """Two timeouts in a row (down_after=2) mark a black-holed upstream down."""
    for name in names:
        await ask(port, name)


# Upstream health ----------------------------------------------------------------------------


async def test_black_holed_upstream_is_marked_down_and_then_nobody_waits() -> None:
    upstream = ControlledUpstream("blackhole")
    async with world(upstream) as (port, resolver):
        first, first_time = await timed(ask(port, "a.example", use_edns=0))
        # One whole forward budget of silence is enough: the second new name does not wait it again.
        assert resolver.upstreams.states() == {f"{HOST}:{free_port_of(resolver)}": "down"}
        asked_before = len(upstream.asked)
        later, later_time = await timed(ask(port, "c.example", use_edns=0))
    assert first.rcode() == dns.rcode.SERVFAIL and 0.35 <= first_time < 0.8
    assert later.rcode() == dns.rcode.SERVFAIL
    assert later_time < 0.1  # no waiting on a known-down upstream
    assert ede_codes(later) == [22]  # No Reachable Authority
    assert len(upstream.asked) == asked_before  # not even asked


async def test_queries_waiting_on_a_silent_upstream_are_released_when_it_is_found_down() -> None:
    upstream = ControlledUpstream("blackhole")
    async with world(upstream, forward_timeout=0.6) as (port, resolver):
        first = asyncio.ensure_future(timed(ask(port, "first.example")))
        await asyncio.sleep(0.3)  # a second new name, asked while the first still waits
        second, second_time = await timed(ask(port, "second.example"))
        (first_answer, first_time), (third, third_time) = await first, await timed(ask(port, "third.example"))
    assert first_answer.rcode() == second.rcode() == third.rcode() == dns.rcode.SERVFAIL
    assert 0.5 <= first_time < 1.0  # the one that waited the whole budget
    assert second_time < 0.5, f"the second waited {second_time:.2f} s: a whole budget again"
    assert third_time < 0.1
    assert list(resolver.upstreams.states().values()) == ["down"]


async def test_two_upstreams_silent_for_less_than_the_budget_are_only_suspect() -> None:
    silent = [ControlledUpstream("blackhole"), ControlledUpstream("blackhole")]
    async with world(*silent, forward_timeout=0.6, health={"down_after": 3}) as (port, resolver):
        await ask(port, "half.example")  # 0.3 s each: neither has been silent for a whole budget
        assert list(resolver.upstreams.states().values()) == ["suspect", "suspect"]
        await ask(port, "again.example")  # now each has been silent 0.6 s and more
    assert list(resolver.upstreams.states().values()) == ["down", "down"]


def free_port_of(resolver: IslandResolver) -> int:
    return resolver.config.upstreams[0].port


async def test_failover_puts_a_silent_upstream_last_and_nobody_waits_on_it() -> None:
    silent, live = ControlledUpstream("blackhole"), ControlledUpstream("answer")
    async with world(silent, live, forward_timeout=0.6) as (port, resolver):
        first, first_time = await timed(ask(port, "f1.example"))  # waits on the silent one first
        assert list(resolver.upstreams.states().values()) == ["suspect", "up"]
        response, elapsed = await timed(ask(port, "f2.example"))
    assert addresses(first) == addresses(response) == ["192.0.2.1"]
    assert first_time >= 0.25
    assert elapsed < 0.1
    assert silent.count("f2.example") == 0


async def test_upstream_that_comes_back_is_used_again_without_restart() -> None:
    upstream = ControlledUpstream("blackhole")
    async with world(upstream) as (port, resolver):
        await make_down(port)
        assert list(resolver.upstreams.states().values()) == ["down"]
        upstream.mode = "answer"
        await asyncio.sleep(0.6)  # past the recheck interval (0.5 s)
        await ask(port, "trigger.example")  # answered at once (SERVFAIL) while its recheck goes out
        for _ in range(20):
            if list(resolver.upstreams.states().values()) == ["up"]:
                break
            await asyncio.sleep(0.05)
        response = await ask(port, "back.example")
    assert list(resolver.upstreams.states().values()) == ["up"]
    assert addresses(response) == ["192.0.2.1"]


async def test_only_one_recheck_probe_at_a_time_and_not_before_the_interval() -> None:
    upstream = ControlledUpstream("blackhole")
    async with world(upstream, health={"recheck_interval": 0.8}) as (port, _):
        await make_down(port)
        asked = len(upstream.asked)
        await asyncio.gather(*(ask(port, f"early{i}.example") for i in range(20)))
        assert len(upstream.asked) == asked  # before the interval: no probe at all
        await asyncio.sleep(0.9)
        await asyncio.gather(*(ask(port, f"late{i}.example") for i in range(20)))
        await asyncio.sleep(0.1)
    assert len(upstream.asked) == asked + 1


async def test_refusing_upstream_fails_over_to_the_next() -> None:
    refusing, live = ControlledUpstream("refuse"), ControlledUpstream("answer")
    async with world(refusing, live) as (port, _):
        response, elapsed = await timed(ask(port, "r.example"))
    assert addresses(response) == ["192.0.2.1"]
    assert elapsed < 0.2
    assert refusing.count("r.example") == 1


async def test_only_refusing_upstreams_give_servfail_without_unreachable_ede() -> None:
    async with world(ControlledUpstream("refuse")) as (port, resolver):
        response = await ask(port, "r.example", use_edns=0)
    assert response.rcode() == dns.rcode.SERVFAIL
    assert ede_codes(response) == []  # it was reachable, it said no
    assert list(resolver.upstreams.states().values()) == ["up"]


# Serve-stale --------------------------------------------------------------------------------


async def test_stale_answer_at_once_with_ede_when_the_upstream_is_known_down() -> None:
    upstream = ControlledUpstream("answer", ttl=1)
    async with world(upstream) as (port, _):
        assert addresses(await ask(port, "news.example")) == ["192.0.2.1"]
        upstream.mode = "blackhole"
        await make_down(port)
        await asyncio.sleep(1.1)  # the answer has expired
        response, elapsed = await timed(ask(port, "news.example", use_edns=0))
    assert addresses(response) == ["192.0.2.1"]
    assert response.rcode() == dns.rcode.NOERROR
    assert response.answer[0].ttl == 30  # RFC 8767 stale TTL
    assert sorted(ede_codes(response)) == [3, 22]  # Stale Answer, No Reachable Authority
    assert elapsed < 0.1


async def test_stale_answer_on_first_miss_within_the_client_response_timer() -> None:
    upstream = ControlledUpstream("answer", ttl=1)
    async with world(upstream, forward_timeout=1.5) as (port, resolver):
        await ask(port, "news.example")
        upstream.mode = "blackhole"  # the resolver does not know yet: still up
        await asyncio.sleep(1.1)
        assert list(resolver.upstreams.states().values()) == ["up"]
        response, elapsed = await timed(ask(port, "news.example", use_edns=0))
    assert addresses(response) == ["192.0.2.1"]
    assert 3 in ede_codes(response)
    assert elapsed < 1.8


async def test_stale_answer_without_edns_carries_no_ede_but_is_served() -> None:
    upstream = ControlledUpstream("answer", ttl=1)
    async with world(upstream) as (port, _):
        await ask(port, "plain.example", use_edns=False)
        upstream.mode = "blackhole"
        await make_down(port)
        await asyncio.sleep(1.1)
        response = await ask(port, "plain.example", use_edns=False)
    assert addresses(response) == ["192.0.2.1"]
    assert response.edns < 0  # no OPT record: the client did not use EDNS


async def test_answers_older_than_max_stale_are_not_served() -> None:
    upstream = ControlledUpstream("answer", ttl=1)
    async with world(upstream, serve_stale={"max_stale": 0.5}) as (port, _):
        await ask(port, "old.example")
        upstream.mode = "blackhole"
        await make_down(port)
        await asyncio.sleep(1.7)
        response = await ask(port, "old.example", use_edns=0)
    assert response.rcode() == dns.rcode.SERVFAIL
    assert ede_codes(response) == [22]


async def test_concurrent_identical_queries_share_one_upstream_query() -> None:
    upstream = ControlledUpstream("answer", delay=0.2)
    async with world(upstream) as (port, _):
        answers = await asyncio.gather(*(ask(port, "Popular.example") for _ in range(25)))
    assert all(addresses(a) == ["192.0.2.1"] for a in answers)
    assert upstream.count("popular.example") == 1


async def test_popular_entry_is_prefetched_before_it_expires() -> None:
    upstream = ControlledUpstream("answer", ttl=2)
    async with world(upstream) as (port, _):
        for _ in range(3):
            await ask(port, "hot.example")
        await asyncio.sleep(1.85)  # in the last tenth of its life
        await ask(port, "hot.example")
        await asyncio.sleep(0.1)
        assert upstream.count("hot.example") == 2  # refreshed in the background
        await asyncio.sleep(0.4)  # the first answer has expired now
        response = await ask(port, "hot.example")
    assert upstream.count("hot.example") == 2  # served from the refreshed entry
    assert addresses(response) == ["192.0.2.1"]
    assert 1 <= response.answer[0].ttl <= 2


async def test_cache_is_bounded() -> None:
    upstream = ControlledUpstream("answer")
    async with world(upstream, cache={"max_entries": 3}) as (port, resolver):
        for i in range(5):
            await ask(port, f"n{i}.example")
        await ask(port, "n4.example")
        await ask(port, "n0.example")
    assert len(resolver.cache) == 3
    assert upstream.count("n4.example") == 1  # recent: still cached
    assert upstream.count("n0.example") == 2  # oldest: evicted


async def test_cached_answer_ttl_counts_down_and_id_and_case_are_the_clients() -> None:
    async with world(ControlledUpstream("answer", ttl=60)) as (port, _):
        await ask(port, "www.example")
        await asyncio.sleep(1.2)
        query = dns.message.make_query("WwW.ExAmPlE", "A", id=4321)
        response = await dns.asyncquery.udp(query, HOST, port=port, timeout=3)
    assert response.id == 4321
    assert str(response.question[0].name) == "WwW.ExAmPlE."
    assert 58 <= response.answer[0].ttl <= 59


# Wire correctness -----------------------------------------------------------------------------


async def test_nxdomain_and_nodata_are_told_apart_with_the_soa_also_from_cache() -> None:
    upstream = ControlledUpstream("answer")
    async with world(upstream) as (port, _):
        for _ in range(2):  # the second time from the cache
            nx = await ask(port, "nx.example")
            nodata = await ask(port, "www.example", "AAAA")
            assert nx.rcode() == dns.rcode.NXDOMAIN and nx.answer == []
            assert nodata.rcode() == dns.rcode.NOERROR and nodata.answer == []
            for negative in (nx, nodata):
                assert [r.rdtype for r in negative.authority] == [dns.rdatatype.SOA]
    assert upstream.count("nx.example") == 1


async def test_client_udp_size_is_honoured_and_tcp_gets_it_all() -> None:
    upstream = ControlledUpstream("answer")
    async with world(upstream) as (port, _):
        small = await ask(port, "big.example", "TXT", use_edns=0, payload=512)
        plain = await ask(port, "big.example", "TXT", use_edns=False)
        tcp = await ask(port, "big.example", "TXT", tcp=True)
        large = await ask(port, "big.example", "TXT", use_edns=0, payload=4096)
    for truncated in (small, plain, large):  # 30 x 70 bytes never fits in 1232 either
        assert truncated.flags & dns.flags.TC and truncated.answer == []
    assert not tcp.flags & dns.flags.TC
    assert len(tcp.answer[0]) == 30
    assert ("big.example.", "tcp") in upstream.asked  # the upstream's own TC was retried over TCP


async def test_several_queries_on_one_tcp_connection() -> None:
    async with world(ControlledUpstream("answer")) as (port, _):
        reader, writer = await asyncio.open_connection(HOST, port)
        names = ["krisinfo.kommun.example", "one.example", "two.example"]
        for i, name in enumerate(names):
            wire = dns.message.make_query(name, "A", id=100 + i).to_wire()
            writer.write(struct.pack("!H", len(wire)) + wire)
        await writer.drain()
        answers = []
        for _ in names:
            (length,) = struct.unpack("!H", await reader.readexactly(2))
            answers.append(dns.message.from_wire(await reader.readexactly(length)))
        writer.close()
    assert sorted(a.id for a in answers) == [100, 101, 102]
    assert all(a.rcode() == dns.rcode.NOERROR and a.answer for a in answers)


async def test_malformed_packets_get_formerr_or_silence_and_a_good_query_still_works() -> None:
    async with world(ControlledUpstream("answer")) as (port, _):
        loop = asyncio.get_running_loop()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.setblocking(False)
            s.connect((HOST, port))
            good = dns.message.make_query("x.example", "A", id=7).to_wire()
            s.send(good[:12] + b"\xc0\x0c\x00\x01\x00\x01")  # a pointer to itself in the question
            reply = await asyncio.wait_for(loop.sock_recv(s, 512), 2)
        response = await ask(port, "krisinfo.kommun.example")
    assert reply[:2] == good[:2]
    assert reply[3] & 0xF == dns.rcode.FORMERR
    assert addresses(response) == ["10.20.0.10"]


# Safety -----------------------------------------------------------------------------------------


async def test_clients_outside_the_allowed_networks_are_refused_and_never_forwarded() -> None:
    upstream = ControlledUpstream("answer")
    async with world(upstream, allow=["10.20.0.0/24"]) as (port, _):
        for tcp in (False, True):
            outside = await ask(port, "open.example", tcp=tcp)
            local = await ask(port, "krisinfo.kommun.example", tcp=tcp)
            assert outside.rcode() == dns.rcode.REFUSED and outside.answer == []
            assert local.rcode() == dns.rcode.REFUSED
    assert upstream.asked == []


async def udp_burst(port: int, name: str, count: int) -> list[dns.message.Message]:
    """``count`` queries sent at once from one socket; the replies that came within half a second of the last."""
    loop = asyncio.get_running_loop()
    replies = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.setblocking(False)
        s.connect((HOST, port))
        for i in range(count):
            s.send(dns.message.make_query(name, "A", id=i).to_wire())
        with contextlib.suppress(asyncio.TimeoutError):
            while True:
                replies.append(dns.message.from_wire(await asyncio.wait_for(loop.sock_recv(s, 512), 0.5)))
    return replies


async def test_response_rate_limit_per_prefix_drops_and_slips_but_tcp_still_works() -> None:
    limit = {"responses_per_second": 5, "burst": 5, "slip": 2}
    async with world(ControlledUpstream("answer"), rate_limit=limit) as (port, _):
        replies = await udp_burst(port, "www.bank.example", 40)
        over_tcp = await ask(port, "www.bank.example", tcp=True)
    full = [r for r in replies if r.answer]
    slipped = [r for r in replies if r.flags & dns.flags.TC and not r.answer]
    assert 5 <= len(full) <= 8  # the burst, and what refilled meanwhile
    assert 10 <= len(slipped) <= 20  # every second limited query: TC, retry over TCP
    assert len(replies) < 40  # the rest dropped
    assert addresses(over_tcp) == ["192.0.2.1"]


async def test_the_islands_own_names_are_answered_over_the_rate_limit() -> None:
    limit = {"responses_per_second": 5, "burst": 5, "slip": 2}
    async with world(ControlledUpstream("answer"), rate_limit=limit) as (port, _):
        await udp_burst(port, "www.bank.example", 40)  # this address is now over its limit
        replies = await udp_burst(port, "krisinfo.kommun.example", 40)
        made_up = await udp_burst(port, "x1.krisinfo.kommun.example", 40)
    assert len(replies) == 40
    assert all(addresses(r) == ["10.20.0.10"] for r in replies)
    # Names under the island's zone that it does not have are limited like any answer.
    answered = [r for r in made_up if not r.flags & dns.flags.TC]
    assert len(answered) <= 4 and len(made_up) <= 26  # what refilled meanwhile; half the rest slipped


async def test_one_address_flooding_new_names_gets_only_its_share_of_work() -> None:
    limit = {"work_per_second": 5, "work_burst": 5}
    async with world(ControlledUpstream("answer"), rate_limit=limit) as (port, _):
        loop = asyncio.get_running_loop()
        answered = 0
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as flooder:
            flooder.setblocking(False)
            flooder.connect((HOST, port))
            for i in range(40):
                flooder.send(dns.message.make_query(f"new{i}.example", "A").to_wire())
            with contextlib.suppress(asyncio.TimeoutError):
                while True:
                    await asyncio.wait_for(loop.sock_recv(flooder, 512), 0.5)
                    answered += 1
            # Over its share, the flooder still gets the island's own name (never asked before)...
            own = dns.message.make_query("krisinfo.kommun.example", "A")
            flooder.send(own.to_wire())
            own_answer = dns.message.from_wire(await asyncio.wait_for(loop.sock_recv(flooder, 512), 2))
            # ...and made-up names under it: no work (NXDOMAIN made from the query's bytes), so not
            # work-limited; the answers' own limit (RRL) still counts them.
            for i in range(40):
                flooder.send(dns.message.make_query(f"x{i}.krisinfo.kommun.example", "A").to_wire())
            made_up = []
            with contextlib.suppress(asyncio.TimeoutError):
                while True:
                    reply = await asyncio.wait_for(loop.sock_recv(flooder, 512), 0.5)
                    made_up.append(dns.message.from_wire(reply).rcode())
        # ...and another address its new names.
        other = await dns.asyncquery.udp(
            dns.message.make_query("other.example", "A"), HOST, port=port, source="127.0.0.2", timeout=2
        )
    assert 5 <= answered <= 8  # its burst and what refilled meanwhile; the rest dropped
    assert addresses(own_answer) == ["10.20.0.10"]
    assert made_up == [dns.rcode.NXDOMAIN] * 40
    assert addresses(other) == ["192.0.2.1"]


async def test_refusals_are_rate_limited_too() -> None:
    limit = {"responses_per_second": 5, "burst": 5, "slip": 0}
    async with world(ControlledUpstream("answer"), rate_limit=limit, allow=["10.20.0.0/24"]) as (port, _):
        replies = await udp_burst(port, "open.example", 40)
    assert replies and all(r.rcode() == dns.rcode.REFUSED for r in replies)
    assert 5 <= len(replies) <= 8  # not one refusal per spoofed query


async def test_tcp_connection_limit_and_idle_timeout() -> None:
    async with world(
        ControlledUpstream("answer"), limits={"tcp_connections": 2, "tcp_idle_seconds": 0.3}
    ) as (port, _):
        held = [await asyncio.open_connection(HOST, port) for _ in range(2)]
        await asyncio.sleep(0.05)
        reader, writer = await asyncio.open_connection(HOST, port)
        over_limit = await asyncio.wait_for(reader.read(), 1)  # closed at once: EOF
        writer.close()
        started = time.monotonic()
        idle_closed = await asyncio.wait_for(held[0][0].read(), 2)
        idle_time = time.monotonic() - started
        for _, w in held:
            w.close()
    assert over_limit == b""
    assert idle_closed == b""
    assert 0.15 <= idle_time < 1.0


# Observability ---------------------------------------------------------------------------------


async def test_metrics_over_http_count_answers_and_show_upstream_state() -> None:
    metrics_port = free_port()
    upstream = ControlledUpstream("answer", ttl=1)
    async with world(upstream, metrics={"host": HOST, "port": metrics_port}) as (port, resolver):
        server, thread = resolver.metrics.serve(HOST, metrics_port)
        try:
            await ask(port, "krisinfo.kommun.example")
            await ask(port, "m.example")
            await ask(port, "m.example")
            upstream.mode = "blackhole"
            await make_down(port)
            await asyncio.sleep(1.1)
            await ask(port, "m.example")
            async with httpx.AsyncClient(trust_env=False) as client:
                text = (await client.get(f"http://{HOST}:{metrics_port}/metrics")).text
        finally:
            server.shutdown()
            thread.join(2)
    assert upstream_states(text) == {f"{HOST}:{resolver.config.upstreams[0].port}": "down"}
    values = {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }
    assert values['island_resolver_answer_source_total{source="local"}'] == 1
    assert values["island_resolver_cache_hits_total"] == 1
    assert values["island_resolver_stale_answers_total"] == 1
    assert values['island_resolver_answers_total{rcode="SERVFAIL"}'] == 2
    assert (
        values[
            'island_resolver_upstream_state_changes_total{state="down",upstream="'
            + f'{HOST}:{resolver.config.upstreams[0].port}"}}'
        ]
        == 1
    )
    assert values['island_resolver_response_seconds_count{source="upstream"}'] == 1
