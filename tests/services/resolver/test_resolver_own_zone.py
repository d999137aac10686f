"""Made-up names under the island's own zone: answered at once from the query's bytes, the same
answer the full path gives (NXDOMAIN, or NODATA for a name with names below it), never forwarded.

The served resolver (fast path on) is compared, answer by answer, with the same resolver
answering on the full path only (a server without fast path): same rcode, flags, question
(with the client's letter case), SOA and EDNS.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct

import dns.asyncquery
import dns.flags
import dns.message
import dns.rcode
from net_helpers import HOST, serving
from resolver_test_helpers import ControlledUpstream, config, running

from services.resolver import IslandResolver

ZONES = [
    {
        "name": "krisinfo.kommun.example",
        "type": "static",
        "data": (
            "@ 3600 IN SOA ns.island.example. hostmaster.island.example. 7 3600 600 86400 30\n"
            "@ 30 IN A 10.20.0.10\n"
            "www.hjalp 30 IN A 10.20.0.11\n"
        ),
    },
    # A transparent zone below the static one: its missing names go upstream, not NXDOMAIN.
    {"name": "ute.krisinfo.kommun.example", "type": "transparent", "data": "karta 60 IN A 10.20.0.12"},
]


@contextlib.asynccontextmanager
async def both(**extra):
    """(fast-path port, full-path-only port, the served resolver, the upstream)."""
    upstream = ControlledUpstream()
    async with serving(upstream.handle) as upstream_port:
        cfg = config([upstream_port], local_zones=ZONES, **extra)
        async with running(cfg) as (fast_port, resolver):
            async with serving(IslandResolver(cfg).handle) as full_port:
                yield fast_port, full_port, resolver, upstream


async def ask(port: int, name: str, rdtype: str = "A", **kw) -> dns.message.Message:
    query = dns.message.make_query(name, rdtype, **kw)
    return await dns.asyncquery.udp(query, HOST, port=port, timeout=2)


def comparable(response: dns.message.Message) -> tuple:
    return (
        response.rcode(),
        response.flags,
        [rrset.to_text() for rrset in response.question],
        [rrset.to_text() for rrset in response.answer],
        [rrset.to_text() for rrset in response.authority],
        response.edns,
        response.payload if response.edns >= 0 else None,
    )


async def test_made_up_names_get_the_full_paths_answer_without_taking_it() -> None:
    async with both() as (fast_port, full_port, resolver, upstream):
        cases = [
            ("x7f3a9.krisinfo.kommun.example", "A", {}),
            ("X7F3A9.KrisInfo.Kommun.Example", "AAAA", {"use_edns": 0}),
            ("a.b.c.krisinfo.kommun.example", "TXT", {"use_edns": 0, "want_dnssec": True}),
            ("hjalp.krisinfo.kommun.example", "A", {}),  # names below it: NODATA, not NXDOMAIN
        ]
        full_before = sum(resolver.metrics.hot.sources.values())
        for name, rdtype, kw in cases:
            fast = await ask(fast_port, name, rdtype, **kw)
            full = await ask(full_port, name, rdtype, **kw)
            assert comparable(fast) == comparable(full), name
        assert sum(resolver.metrics.hot.sources.values()) == full_before  # none took the full path
        assert upstream.asked == []
    assert fast.rcode() == dns.rcode.NOERROR  # the last case: NODATA


async def test_made_up_names_say_nxdomain_with_the_zones_soa_and_the_clients_id() -> None:
    async with both() as (fast_port, _, _, _):
        query = dns.message.make_query("nosuch.krisinfo.kommun.example", "A")
        response = await dns.asyncquery.udp(query, HOST, port=fast_port, timeout=2)
    assert response.id == query.id
    assert response.rcode() == dns.rcode.NXDOMAIN
    assert response.flags & dns.flags.AA and response.flags & dns.flags.RA
    [soa] = response.authority
    assert soa.to_text() == (
        "krisinfo.kommun.example. 30 IN SOA ns.island.example. hostmaster.island.example. 7 3600 600 86400 30"
    )


async def test_names_with_data_and_transparent_zones_below_are_not_made_negative() -> None:
    async with both() as (fast_port, _, _, upstream):
        assert (await ask(fast_port, "www.hjalp.krisinfo.kommun.example")).answer[0][
            0
        ].address == "10.20.0.11"
        assert (await ask(fast_port, "karta.ute.krisinfo.kommun.example")).answer[0][
            0
        ].address == "10.20.0.12"
        outside = await ask(fast_port, "annat.ute.krisinfo.kommun.example")
    assert outside.answer[0][0].address == "192.0.2.1"  # the upstream's
    assert upstream.count("annat.ute.krisinfo.kommun.example") == 1


def _raw_query(name: bytes, *, qd: int = 1, additional: bytes = b"", ar: int = 0) -> bytes:
    return struct.pack("!HHHHHH", 0x1234, 0x0100, qd, 0, 0, ar) + name + b"\x00\x01\x00\x01" + additional


async def _raw(port: int, packet: bytes) -> bytes:
    loop = asyncio.get_running_loop()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        sock.connect((HOST, port))
        sock.send(packet)
        return await asyncio.wait_for(loop.sock_recv(sock, 4096), 2)


async def test_bad_packets_are_refused_at_once_without_the_full_path() -> None:
    crisis = b"\x08krisinfo\x06kommun\x07example\x00"
    made_up = b"\x06x7f3a9" + crisis
    long_name = (b"\x3f" + b"a" * 63) * 4 + b"\x00"  # 257 octets
    opt = b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00"
    version_1 = b"\x00\x00\x29\x04\xd0\x00\x01\x00\x00\x00\x00"
    cases = [
        (_raw_query(made_up, qd=65535), dns.rcode.FORMERR),
        (_raw_query(long_name), dns.rcode.FORMERR),
        (_raw_query(made_up, additional=version_1, ar=1), dns.rcode.BADVERS),
        (_raw_query(crisis, additional=version_1, ar=1), dns.rcode.BADVERS),
        (_raw_query(made_up, additional=opt + opt, ar=2), dns.rcode.FORMERR),
    ]
    # One query's worth of work a second: what took the full path would be dropped after the first.
    async with both(rate_limit={"work_per_second": 1, "work_burst": 1}) as (fast_port, _, resolver, upstream):
        for packet, rcode in cases * 3:
            reply = dns.message.from_wire(await _raw(fast_port, packet), ignore_trailing=True)
            assert reply.rcode() == rcode
            assert reply.id == 0x1234
        assert resolver.metrics.bad_packets.labels("malformed")._value.get() == 3 * len(cases)
        assert upstream.asked == []
