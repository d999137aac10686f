"""BatchedUDP on a real loopback socket: a burst is read in a few recvmmsg calls and answered with sendmmsg."""

from __future__ import annotations

import socket
import struct

import pytest

from services.dns import udp_batch

pytestmark = pytest.mark.skipif(not udp_batch.available(), reason="recvmmsg/sendmmsg need 64-bit Linux")


def packet(qid: int, body: bytes) -> bytes:
    return struct.pack("!H", qid) + body


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.fixture
def pair():
    yield from _pair(socket.AF_INET, "127.0.0.1")


def _pair(family: int, host: str):
    server = socket.socket(family, socket.SOCK_DGRAM)
    server.bind((host, 0))
    server.setblocking(False)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)  # room for the whole burst
    client = socket.socket(family, socket.SOCK_DGRAM)
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    client.bind((host, 0))
    client.connect(server.getsockname())
    client.settimeout(2)
    yield server, client
    server.close()
    client.close()


def test_a_burst_is_drained_in_batches_with_each_reply_carrying_its_query_id(pair) -> None:
    server, client = pair
    seen_hosts, done = [], []

    def answer(data: bytes, host: str, transport: str) -> bytes | None:
        seen_hosts.append((host, transport))
        return b"\x00\x00" + data[2:].upper()  # any ID: the batch puts the query's on it

    batched = udp_batch.BatchedUDP(
        server, answer, lambda data, client: None, lambda n, s: done.append((n, s))
    )
    for i in range(140):
        client.send(packet(i, b"query-%03d" % i))
    batched.drain()
    replies = sorted(client.recv(100) for _ in range(140))
    assert replies == sorted(packet(i, b"QUERY-%03d" % i) for i in range(140))
    assert batched.batches == 3  # 64 + 64 + 12
    assert set(seen_hosts) == {("127.0.0.1", "udp")}
    assert [n for n, _ in done] == [64, 64, 12] and all(0 <= s < 1 for _, s in done)


def test_misses_and_drops_in_the_middle_of_a_batch_leave_the_other_answers_in_place(pair) -> None:
    server, client = pair
    misses = []

    def answer(data: bytes, host: str, transport: str) -> bytes | None:
        kind = data[2:]
        if kind == b"miss":
            return None
        if kind == b"drop":
            return b""
        if kind == b"big":
            return b"\x00\x00" + b"x" * 5000  # larger than a send slot: sent on its own
        return b"\x00\x00ok"

    batched = udp_batch.BatchedUDP(server, answer, lambda data, client: misses.append((data, client)))
    kinds = [b"hit", b"miss", b"hit", b"drop", b"hit", b"big", b"miss", b"hit"]
    for i, kind in enumerate(kinds):
        client.send(packet(i, kind))
    batched.drain()
    replies = sorted(client.recv(6000) for _ in range(5))
    assert replies == sorted(
        [packet(0, b"ok"), packet(2, b"ok"), packet(4, b"ok"), packet(7, b"ok"), packet(5, b"x" * 5000)]
    )
    client.settimeout(0.2)
    with pytest.raises(socket.timeout):
        client.recv(100)
    assert [data for data, _ in misses] == [packet(1, b"miss"), packet(6, b"miss")]
    assert {address for _, address in misses} == {client.getsockname()}


def test_without_a_fast_path_every_query_takes_the_full_path(pair) -> None:
    server, client = pair
    misses = []
    batched = udp_batch.BatchedUDP(server, None, lambda data, address: misses.append(data))
    big = packet(9, b"q" * 60000)  # a query as large as UDP allows is read whole
    for data in (packet(1, b"a"), big):
        client.send(data)
    batched.drain()
    assert misses == [packet(1, b"a"), big]


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback here")
def test_ipv6_clients_are_answered_and_named_by_their_address() -> None:
    for server, client in _pair(socket.AF_INET6, "::1"):
        hosts: list[str] = []
        misses: list[object] = []

        def answer(data: bytes, host: str, transport: str, hosts: list[str] = hosts) -> bytes | None:
            hosts.append(host)
            return None if data[2:] == b"miss" else b"\x00\x00v6"

        batched = udp_batch.BatchedUDP(
            server, answer, lambda data, address, misses=misses: misses.append(address)
        )
        client.send(packet(3, b"hit"))
        client.send(packet(4, b"miss"))
        batched.drain()
        assert client.recv(100) == packet(3, b"v6")
        assert hosts == ["::1", "::1"]
        assert [address[:2] for address in misses] == [client.getsockname()[:2]]
