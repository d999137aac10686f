"""Island mode: phones' connectivity checks go to the portal while the uplink is down, and only then.

Real sockets: a controllable upstream (the internet), the resolver in front of it with its
heartbeat running as `serve()` runs it, and dnspython as the phone.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import dns.flags
import dns.rcode
from net_helpers import free_port
from resolver_test_helpers import ControlledUpstream, addresses, ask, config, running, world

from services.resolver.resolver import IslandResolver, _heartbeat

PORTAL = "10.20.0.11"
CHECK = "connectivitycheck.gstatic.com"
ISLAND_MODE = {"portal": PORTAL, "heartbeat": 0.2, "ttl": 5}


@contextlib.asynccontextmanager
async def island(upstream: ControlledUpstream, **extra: object) -> AsyncIterator[tuple[int, IslandResolver]]:
    async with world(upstream, island_mode=ISLAND_MODE, **extra) as (port, resolver):
        beating = asyncio.ensure_future(_heartbeat(resolver, resolver.config))
        try:
            yield port, resolver
        finally:
            beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beating


async def until(condition: object, within: float) -> float:
    started = time.monotonic()
    while not condition():  # type: ignore[operator]
        assert time.monotonic() - started < within, f"not within {within} s"
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def test_with_the_uplink_up_checks_reach_the_internet_with_a_short_ttl() -> None:
    upstream = ControlledUpstream(ttl=300)
    async with island(upstream) as (port, _):
        # Forwarded each time, never from the cache, in any case (0x20); kept no longer than island mode's TTL.
        for name in (CHECK, CHECK, "ConnectivityCheck.GStatic.com"):
            answer = await ask(port, name)
            assert addresses(answer) == ["192.0.2.1"]
            assert all(rrset.ttl <= 5 for rrset in answer.answer)
        assert [name.lower() for name, _ in upstream.asked].count(CHECK + ".") == 3
        other = await ask(port, "www.bank.example")
        assert other.answer[0].ttl > 5  # only the check names are shortened


async def test_a_cut_sends_every_os_check_to_the_portal_and_a_restore_brings_the_internet_back() -> None:
    upstream = ControlledUpstream(ttl=300)
    async with island(upstream) as (port, resolver):
        assert addresses(await ask(port, CHECK)) == ["192.0.2.1"]
        assert addresses(await ask(port, "www.bank.example")) == ["192.0.2.1"]
        upstream.mode = "blackhole"
        cut = time.monotonic()
        took = await until(lambda: resolver.island is not None and resolver.island.active, within=3.0)
        assert took <= 0.2 + 0.4 + 1.0  # a heartbeat, a forward budget, and slack for a loaded machine
        for name in (
            CHECK,
            "captive.apple.com",
            "www.msftconnecttest.com",
            "detectportal.firefox.com",
            "nmcheck.gnome.org",
            "dns.msftncsi.com",
        ):
            (answer,) = [await ask(port, name)]
            assert addresses(answer) == [PORTAL], name
            assert answer.flags & dns.flags.AA and answer.answer[0].ttl == 5
        aaaa = await ask(port, "captive.apple.com", "AAAA")
        assert aaaa.rcode() == dns.rcode.NOERROR and not aaaa.answer  # phones use the IPv4 portal
        # Other outside names are not hijacked: what was cached is served stale, as before.
        assert addresses(await ask(port, "www.bank.example")) == ["192.0.2.1"]
        assert time.monotonic() - cut < 5

        upstream.mode = "answer"
        await until(lambda: resolver.island is not None and not resolver.island.active, within=3.0)
        assert addresses(await ask(port, CHECK)) == ["192.0.2.1"]


async def test_a_lossy_uplink_that_still_answers_is_not_a_cut() -> None:
    """Half the heartbeat's questions lost: it asks again within its budget, so island mode stays off
    (and the island gate open). One lost packet used to be a cut."""
    upstream = ControlledUpstream()
    async with island(upstream) as (_, resolver):
        upstream.asked.clear()
        upstream.mode = "lossy"
        await asyncio.sleep(3.0)
        assert resolver.island is not None and not resolver.island.active
        assert resolver.upstreams.states() == {name: "up" for name in resolver.upstreams.states()}
        assert len(upstream.asked) >= 10, "the heartbeat kept asking"


async def test_a_check_asked_before_the_island_notices_a_cut_gets_the_portal_not_its_cached_address() -> None:
    upstream = ControlledUpstream(ttl=300)
    async with island(upstream) as (port, resolver):
        assert addresses(await ask(port, CHECK)) == ["192.0.2.1"]
        upstream.mode = "blackhole"
        answer = await ask(port, CHECK)  # at once: island mode is not on yet
        assert resolver.island is not None
        assert addresses(answer) == [PORTAL] and answer.answer[0].ttl == 5


async def test_a_check_asked_first_during_the_cut_gets_the_portal_not_servfail() -> None:
    upstream = ControlledUpstream(mode="blackhole")
    async with world(upstream, island_mode=ISLAND_MODE) as (port, resolver):  # no heartbeat yet
        assert resolver.island is not None and not resolver.island.active
        answer = await ask(port, "captive.apple.com")
        assert addresses(answer) == [PORTAL]
        outside = await ask(port, "never-seen.example")
        assert outside.rcode() == dns.rcode.SERVFAIL


async def test_an_upstream_answering_refused_is_not_a_cut() -> None:
    upstream = ControlledUpstream()
    async with island(upstream) as (port, resolver):
        upstream.mode = "refuse"
        # REFUSED is an answer: the internet may still work, so island mode stays off.
        await asyncio.sleep(0.6)
        assert resolver.island is not None and not resolver.island.active


async def test_a_rejected_uplink_turns_island_mode_on_within_one_heartbeat() -> None:
    nobody = free_port()  # nothing listens: the kernel answers "port unreachable" at once
    async with running(config([nobody], island_mode=ISLAND_MODE)) as (port, resolver):
        beating = asyncio.ensure_future(_heartbeat(resolver, resolver.config))
        try:
            await until(lambda: resolver.island is not None and resolver.island.active, within=1.0)
            assert addresses(await ask(port, CHECK)) == [PORTAL]
        finally:
            beating.cancel()


async def test_without_island_mode_configured_checks_are_plain_outside_names() -> None:
    upstream = ControlledUpstream(ttl=300)
    async with world(upstream) as (port, resolver):
        assert resolver.island is None
        assert (await ask(port, CHECK)).answer[0].ttl > 5
