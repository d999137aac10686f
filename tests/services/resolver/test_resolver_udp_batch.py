"""UDP served in batches (recvmmsg/sendmmsg) and one datagram at a time answer alike, and count alike.

A burst is sent before the server's event loop gets a turn (the test and the server share
the loop), so the server finds many queries waiting and reads them in batches; queries
that need the full path in the middle of a batch still get their answer.
"""

from __future__ import annotations

import asyncio
import socket
import struct

import dns.message
import dns.rcode
import dns.rdatatype
import pytest
from resolver_test_helpers import HOST, ControlledUpstream, ask, world

LOCAL_NAME = "krisinfo.kommun.example"
BATCHED = [pytest.param(True, id="batched"), pytest.param(False, id="per-datagram")]


def metric_values(resolver) -> dict[str, float]:
    from prometheus_client import generate_latest

    text = generate_latest(resolver.metrics.registry).decode()
    return {
        line.split(" ")[0]: float(line.split(" ")[1]) for line in text.splitlines() if line and line[0] != "#"
    }


async def burst(port: int, packets: list[bytes], expect: int, timeout: float = 5) -> list[bytes]:
    """Send every packet at once, before the loop runs the server, then collect ``expect`` replies."""
    loop = asyncio.get_running_loop()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        sock.connect((HOST, port))
        for packet in packets:
            sock.send(packet)
        sock.setblocking(False)
        replies: list[bytes] = []
        async with asyncio.timeout(timeout):
            while len(replies) < expect:
                replies.append(await loop.sock_recv(sock, 65535))
        return replies


def query(name: str, qid: int, rdtype: str = "A") -> bytes:
    message = dns.message.make_query(name, rdtype)
    message.id = qid
    return message.to_wire()


@pytest.mark.parametrize("batched", BATCHED)
async def test_a_burst_of_local_questions_is_answered_in_full_with_each_query_id(batched: bool) -> None:
    async with world(ControlledUpstream("answer"), batched=batched) as (port, resolver):
        await ask(port, LOCAL_NAME)  # the full path learns the answer; the burst is served by replays
        names = [LOCAL_NAME, LOCAL_NAME.upper(), "NoSuch." + LOCAL_NAME]
        packets = [query(names[i % 3], 1000 + i) for i in range(200)]
        replies = [dns.message.from_wire(r) for r in await burst(port, packets, expect=200)]
    by_id = {r.id: r for r in replies}
    assert sorted(by_id) == list(range(1000, 1200))
    for i in range(200):
        reply = by_id[1000 + i]
        assert reply.question[0].name.to_text() == names[i % 3] + "."  # the client's letter case (0x20)
        if i % 3 == 2:
            assert reply.rcode() == dns.rcode.NXDOMAIN
        else:
            assert [rr.to_text() for rr in reply.answer[0]] == ["10.20.0.10"]


@pytest.mark.parametrize("batched", BATCHED)
async def test_queries_for_the_full_path_inside_a_batch_get_their_own_answers(batched: bool) -> None:
    upstream = ControlledUpstream("answer")
    async with world(upstream, batched=batched) as (port, resolver):
        await ask(port, LOCAL_NAME)
        header_only = struct.pack("!HHHHHH", 0x4242, 0x0100, 0, 0, 0, 0)  # FORMERR
        response = dns.message.make_response(
            dns.message.make_query(LOCAL_NAME, "A")
        ).to_wire()  # never answered
        packets = [
            query(LOCAL_NAME, 1),
            query("outside.example", 2),
            query(LOCAL_NAME, 3),
            header_only,
            response,
            b"\x01",
            query("other.example", 5, "AAAA"),
            query(LOCAL_NAME, 6),
        ]
        replies = {r.id: r for r in (dns.message.from_wire(x) for x in await burst(port, packets, expect=6))}
        with pytest.raises(TimeoutError):
            await burst(
                port, [], expect=1, timeout=0.3
            )  # nothing more comes: no reply to the response or the byte
    assert sorted(replies) == [1, 2, 3, 5, 6, 0x4242]
    assert [rr.to_text() for rr in replies[2].answer[0]] == [
        "192.0.2.1"
    ]  # from the upstream, via the full path
    assert replies[5].rcode() == dns.rcode.NOERROR and replies[5].answer == []  # NODATA from the upstream
    assert replies[0x4242].rcode() == dns.rcode.FORMERR
    for qid in (1, 3, 6):
        assert [rr.to_text() for rr in replies[qid].answer[0]] == ["10.20.0.10"]
    assert upstream.count("outside.example") == 1


@pytest.mark.parametrize("batched", BATCHED)
async def test_fast_path_answers_are_counted_by_source_and_rcode_and_timed(batched: bool) -> None:
    async with world(ControlledUpstream("answer"), batched=batched) as (port, resolver):
        await ask(port, LOCAL_NAME)  # full path
        await burst(port, [query(LOCAL_NAME, i) for i in range(50)], expect=50)  # fast path
        await ask(port, "cached.example")  # full path, from the upstream
        await ask(port, "cached.example")  # fast path: made from the cache's bytes
        await ask(port, "cached.example")  # fast path again
        await burst(port, [struct.pack("!HHHHHH", 7, 0x0100, 0, 0, 0, 0)], expect=1)  # FORMERR
        values = metric_values(resolver)
    assert values['island_resolver_queries_total{transport="udp"}'] == 55
    assert values['island_resolver_answer_source_total{source="local"}'] == 51
    assert values['island_resolver_answer_source_total{source="cache"}'] == 2
    assert values['island_resolver_answer_source_total{source="upstream"}'] == 1
    assert values["island_resolver_cache_hits_total"] == 2
    assert values['island_resolver_answers_total{rcode="NOERROR"}'] == 54
    assert values['island_resolver_answers_total{rcode="FORMERR"}'] == 1
    assert values['island_resolver_response_seconds_count{source="local"}'] == 51
    assert values['island_resolver_response_seconds_count{source="cache"}'] == 2
    assert values['island_resolver_response_seconds_bucket{le="+Inf",source="local"}'] == 51
    assert 0 < values['island_resolver_response_seconds_sum{source="local"}'] < 51 * 0.1


@pytest.mark.parametrize("batched", BATCHED)
async def test_an_outside_client_is_refused_on_either_path(batched: bool) -> None:
    async with world(ControlledUpstream("answer"), batched=batched, allow=["10.20.0.0/24"]) as (
        port,
        resolver,
    ):
        replies = [
            dns.message.from_wire(r) for r in await burst(port, [query(LOCAL_NAME, i) for i in range(20)], 20)
        ]
        values = metric_values(resolver)
    assert {r.rcode() for r in replies} == {dns.rcode.REFUSED}
    assert sorted(r.id for r in replies) == list(range(20))
    assert values['island_resolver_answer_source_total{source="refused"}'] == 20
    assert values['island_resolver_answers_total{rcode="REFUSED"}'] == 20
