"""The island resolver on real loopback sockets, asked with dnspython.

Upstream is the simulated internet's AuthoritativeDNS (bundled zones, web_address 127.0.0.1)
served by a DNSServer, or a fake UDP socket that is silent or answers with a wrong ID.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import dns.asyncquery
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
from net_helpers import HOST, free_port, serving
from resolver_test_helpers import addresses, ask, fake_upstream, timed

from services.dns import Zone, Zones
from services.dns.wire import with_id
from services.resolver import IslandResolver, ResolverConfig
from services.upstream import AuthoritativeDNS, UpstreamConfig

ISLAND_ADDRESS = "10.20.0.10"
WEB = "127.0.0.1"  # where the simulated internet says every outside name is

LOCAL_ZONES = [
    {
        "name": "krisinfo.kommun.example",
        "type": "static",
        "data": (
            "@   3600 IN SOA ns.island.example. hostmaster.island.example. 7 3600 600 86400 30\n"
            f"@   30   IN A   {ISLAND_ADDRESS}\n"
            f"www 30   IN A   {ISLAND_ADDRESS}\n"
        ),
    },
    {"name": "kommun.example", "type": "transparent", "data": "trygghetspunkt 60 IN A 10.20.0.1"},
]


def internet() -> AuthoritativeDNS:
    config = UpstreamConfig(dns={"host": HOST, "port": 53}, http={"host": HOST, "port": 80}, web_address=WEB)
    return AuthoritativeDNS(config.build_zones())


def resolver_config(upstream_ports: list[int], forward_timeout: float = 1.5, **extra) -> ResolverConfig:
    return ResolverConfig.model_validate(
        {
            "listen": {"host": HOST, "port": 53},  # not used: the tests serve the handler themselves
            "local_zones": LOCAL_ZONES,
            "upstreams": [{"host": HOST, "port": p} for p in upstream_ports],
            "forward_timeout": forward_timeout,
            **extra,
        }
    )


@contextlib.asynccontextmanager
async def island(upstream_ports: list[int], forward_timeout: float = 1.5, **extra):
    async with serving(
        IslandResolver(resolver_config(upstream_ports, forward_timeout, **extra)).handle
    ) as port:
        yield port


@contextlib.asynccontextmanager
async def island_with_internet(forward_timeout: float = 1.5):
    async with serving(internet().handle) as upstream_port:
        async with island([upstream_port], forward_timeout) as port:
            yield port


async def test_the_internet_itself_says_otherwise() -> None:
    # Baseline for the next test: the upstream has its own address for the crisis name.
    async with serving(internet().handle) as upstream_port:
        response = await ask(upstream_port, "krisinfo.kommun.example")
    assert addresses(response) == [WEB]


async def test_crisis_name_is_answered_from_the_local_static_zone() -> None:
    async with island_with_internet() as port:
        for tcp in (False, True):
            response = await ask(port, "krisinfo.kommun.example", tcp=tcp)
            assert response.rcode() == dns.rcode.NOERROR
            assert response.flags & dns.flags.AA
            assert response.flags & dns.flags.RA
            assert addresses(response) == [ISLAND_ADDRESS]
            assert response.answer[0].ttl == 30
            www = await ask(port, "WWW.KrisInfo.Kommun.Example", tcp=tcp)
            assert addresses(www) == [ISLAND_ADDRESS]


async def test_local_answers_never_touch_the_upstream() -> None:
    async with fake_upstream(lambda data: None) as (upstream_port, upstream):
        async with island([upstream_port], forward_timeout=0.5) as port:
            started = time.monotonic()
            response = await ask(port, "krisinfo.kommun.example")
            nx = await ask(port, "nosuch.krisinfo.kommun.example")
            local = await ask(port, "trygghetspunkt.kommun.example")
            elapsed = time.monotonic() - started
    assert addresses(response) == [ISLAND_ADDRESS]
    assert nx.rcode() == dns.rcode.NXDOMAIN
    assert addresses(local) == ["10.20.0.1"]
    assert elapsed < 0.3
    assert upstream.received == []


async def test_missing_name_under_static_zone_is_nxdomain_with_the_zone_soa() -> None:
    async with island_with_internet() as port:
        response = await ask(port, "nosuch.krisinfo.kommun.example")
    assert response.rcode() == dns.rcode.NXDOMAIN
    assert response.flags & dns.flags.AA
    assert response.answer == []
    [soa] = response.authority
    assert soa.rdtype == dns.rdatatype.SOA
    assert str(soa.name) == "krisinfo.kommun.example."
    assert soa[0].serial == 7
    assert str(soa[0].mname) == "ns.island.example."
    assert soa.ttl == 30  # min(SOA TTL 3600, MINIMUM 30)


async def test_other_type_under_static_zone_is_nodata_not_forwarded() -> None:
    async with island_with_internet() as port:
        response = await ask(port, "krisinfo.kommun.example", "AAAA")
    assert response.rcode() == dns.rcode.NOERROR
    assert response.flags & dns.flags.AA
    assert response.answer == []
    assert [rrset.rdtype for rrset in response.authority] == [dns.rdatatype.SOA]


async def test_transparent_zone_answers_its_data_and_forwards_the_rest() -> None:
    async with island_with_internet() as port:
        local = await ask(port, "trygghetspunkt.kommun.example")
        forwarded = await ask(port, "www.kommun.example")
        nx = await ask(port, "nosuch.kommun.example")
        mx = await ask(port, "kommun.example", "MX")
    assert addresses(local) == ["10.20.0.1"]
    assert local.flags & dns.flags.AA
    assert addresses(forwarded) == [WEB]
    assert not forwarded.flags & dns.flags.AA
    assert forwarded.flags & dns.flags.RA
    # the upstream's NXDOMAIN with its SOA, not the island's
    assert nx.rcode() == dns.rcode.NXDOMAIN
    assert [str(r.name) for r in nx.authority] == ["kommun.example."]
    assert nx.authority[0][0].serial == 2026112301
    # the apex has no local MX: the upstream's MX comes through
    assert [rr.to_text() for rr in mx.answer[0]] == ["10 mail.kommun.example."]


async def test_outside_name_is_forwarded() -> None:
    async with island_with_internet() as port:
        for tcp in (False, True):
            response = await ask(port, "www.bank.example", tcp=tcp)
            assert response.rcode() == dns.rcode.NOERROR
            assert addresses(response) == [WEB]
            assert not response.flags & dns.flags.AA
            assert response.flags & dns.flags.RA
        probe = await ask(port, "dns.msftncsi.com")
        unknown = await ask(port, "www.nowhere.invalid")
    assert addresses(probe) == ["131.107.255.255"]
    assert unknown.rcode() == dns.rcode.NXDOMAIN


async def test_client_id_and_rd_are_echoed() -> None:
    async with island_with_internet() as port:
        for name in ("krisinfo.kommun.example", "www.bank.example", "nosuch.krisinfo.kommun.example"):
            for rd in (True, False):
                query = dns.message.make_query(name, "A", id=0xC0DE if rd else 0x0123)
                if not rd:
                    query.flags &= ~dns.flags.RD
                response = await dns.asyncquery.udp(query, HOST, port=port, timeout=3)
                assert response.id == query.id, name
                assert bool(response.flags & dns.flags.RD) == rd, name
                assert response.question == query.question


async def test_edns_is_echoed_only_when_the_client_used_it() -> None:
    async with island_with_internet() as port:
        for name in ("krisinfo.kommun.example", "www.bank.example"):
            plain = await ask(port, name, use_edns=False)
            edns = await ask(port, name, use_edns=0, payload=1232)
            assert plain.edns == -1, name
            assert edns.edns == 0, name


async def test_large_forwarded_answer_is_truncated_for_plain_udp_and_complete_over_tcp() -> None:
    big = "\n".join(f'@ IN TXT "{i:03d} {"t" * 60}"' for i in range(40))
    upstream = AuthoritativeDNS(Zones([Zone.from_text("big.example", big)]))
    async with serving(upstream.handle) as upstream_port:
        async with island([upstream_port]) as port:
            udp = await ask(port, "big.example", "TXT", use_edns=False)
            tcp = await ask(port, "big.example", "TXT", tcp=True)
            edns = await ask(port, "big.example", "TXT", use_edns=0, payload=4096)
    assert udp.flags & dns.flags.TC
    assert udp.answer == []
    assert not tcp.flags & dns.flags.TC
    assert len(tcp.answer[0]) == 40
    assert edns.flags & dns.flags.TC  # 40 x 70 bytes never fits in 1232


async def test_black_holed_upstream_gives_servfail_within_budget_while_local_names_answer_at_once() -> None:
    forward_timeout = 0.5
    async with fake_upstream(lambda data: None) as (upstream_port, upstream):
        async with island([upstream_port], forward_timeout) as port:
            loop = asyncio.get_running_loop()
            started = loop.time()
            outside = asyncio.ensure_future(ask(port, "www.bank.example"))
            await asyncio.sleep(0.05)  # the forward is now waiting on the black hole
            local_started = loop.time()
            local = await ask(port, "krisinfo.kommun.example")
            local_elapsed = loop.time() - local_started
            response = await outside
            elapsed = loop.time() - started
    assert addresses(local) == [ISLAND_ADDRESS]
    assert local_elapsed < 0.1
    assert response.rcode() == dns.rcode.SERVFAIL
    assert forward_timeout - 0.05 <= elapsed <= forward_timeout + 0.3
    assert len(upstream.received) >= 1  # it was asked, it just never answered


async def test_refused_upstream_gives_servfail_quickly() -> None:
    dead = free_port()  # nothing listens: ICMP port unreachable
    async with island([dead], forward_timeout=1.5) as port:
        response, elapsed = await timed(ask(port, "www.bank.example"))
    assert response.rcode() == dns.rcode.SERVFAIL
    assert elapsed < 0.5


async def test_no_upstreams_at_all_gives_servfail() -> None:
    async with island([], forward_timeout=0.5) as port:
        started = time.monotonic()
        response = await ask(port, "www.bank.example")
    assert response.rcode() == dns.rcode.SERVFAIL
    assert time.monotonic() - started < 0.3


async def test_failover_from_refused_first_upstream_to_the_second() -> None:
    dead = free_port()
    async with serving(internet().handle) as live:
        async with island([dead, live], forward_timeout=1.0) as port:
            response, elapsed = await timed(ask(port, "www.bank.example"))
    assert response.rcode() == dns.rcode.NOERROR
    assert addresses(response) == [WEB]
    assert elapsed < 0.5


async def test_failover_from_black_holed_first_upstream_within_the_budget() -> None:
    async with fake_upstream(lambda data: None) as (silent, _):
        async with serving(internet().handle) as live:
            async with island([silent, live], forward_timeout=0.8) as port:
                response, elapsed = await timed(ask(port, "www.bank.example"))
    assert response.rcode() == dns.rcode.NOERROR
    assert addresses(response) == [WEB]
    assert elapsed < 0.8 + 0.1


def wrong_id_answer(data: bytes) -> bytes:
    """A well-formed answer to the upstream query, with its ID off by one."""
    query = dns.message.from_wire(data)
    response = dns.message.make_response(query)
    response.answer.append(dns.rrset.from_text(query.question[0].name, 60, "IN", "A", "203.0.113.66"))
    return with_id(response.to_wire(), (query.id + 1) & 0xFFFF)


async def test_upstream_answer_with_wrong_id_is_ignored() -> None:
    forward_timeout = 0.5
    async with fake_upstream(wrong_id_answer) as (upstream_port, upstream):
        async with island([upstream_port], forward_timeout) as port:
            response, elapsed = await timed(ask(port, "www.bank.example"))
    assert len(upstream.received) >= 1
    assert response.rcode() == dns.rcode.SERVFAIL
    assert "203.0.113.66" not in addresses(response)
    assert forward_timeout - 0.05 <= elapsed <= forward_timeout + 0.3


def wrong_question_answer(data: bytes) -> bytes:
    """The right ID, but an answer for another name."""
    query = dns.message.from_wire(data)
    forged = dns.message.make_query("evil.example", "A", id=query.id)
    response = dns.message.make_response(forged)
    response.answer.append(dns.rrset.from_text("evil.example", 60, "IN", "A", "203.0.113.66"))
    return response.to_wire()


async def test_upstream_answer_for_another_question_is_not_passed_on() -> None:
    async with fake_upstream(wrong_question_answer) as (upstream_port, _):
        async with island([upstream_port], forward_timeout=0.5) as port:
            response = await ask(port, "www.bank.example")
    assert response.rcode() == dns.rcode.SERVFAIL
    assert response.answer == []


def servfail_for(data: bytes) -> bytes:
    response = dns.message.make_response(dns.message.from_wire(data))
    response.set_rcode(dns.rcode.SERVFAIL)
    return response.to_wire()


async def test_upstream_gets_a_fresh_id_not_the_clients() -> None:
    async with fake_upstream(servfail_for) as (upstream_port, upstream):
        # SERVFAIL keeps it up but caches nothing, so each of the three queries is forwarded.
        async with island([upstream_port], forward_timeout=0.3) as port:
            queries = [dns.message.make_query("www.bank.example", "A", id=4242) for _ in range(3)]
            for query in queries:
                await dns.asyncquery.udp(query, HOST, port=port, timeout=3)
    forwarded_ids = {dns.message.from_wire(data).id for data in upstream.received}
    assert len(upstream.received) == 3
    assert len(forwarded_ids) > 1 or 4242 not in forwarded_ids
    assert all(
        str(dns.message.from_wire(d).question[0].name) == "www.bank.example." for d in upstream.received
    )
