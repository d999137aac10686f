"""Fuzz: 100,000 malformed and mutated packets at a real resolver process over UDP.

Packets come in batches; after each batch a good query must still be answered, every
reply must be a response (QR set: the resolver never reflects a query), and the
process must still be running at the end. TCP gets mutated messages too, on few connections.
"""

from __future__ import annotations

import json
import random
import select
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import dns.exception
import dns.message
import dns.query
import dns.rcode
from dnslib import EDNS0, DNSRecord, EDNSOption
from net_helpers import HOST, free_port

PACKETS = 100_000
BATCH = 100  # small enough for the socket buffers: packets are processed, not dropped by the kernel
SEED = 20261123
LOCAL_NAME = "krisinfo.kommun.example"


def corpus() -> list[bytes]:
    """Well-formed queries of many shapes: the seeds the mutations start from."""
    packets = []
    for name in (LOCAL_NAME, "nosuch.krisinfo.kommun.example", "www.bank.example", "a.b.c.d.e.example", "."):
        for qtype in ("A", "AAAA", "TXT", "ANY", "SOA", "NS", "MX", "CNAME"):
            record = DNSRecord.question(name, qtype)
            packets.append(record.pack())
            record.add_ar(EDNS0(udp_len=4096, opts=[EDNSOption(10, b"12345678")]))
            packets.append(record.pack())
    return packets


def mutate(rng: random.Random, seeds: list[bytes]) -> bytes:
    data = bytearray(rng.choice(seeds))
    for _ in range(rng.randint(1, 3)):
        how = rng.randrange(8)
        if how == 0 and data:  # flip bits
            for _ in range(rng.randint(1, 8)):
                i = rng.randrange(len(data))
                data[i] ^= 1 << rng.randrange(8)
        elif how == 1:  # truncate
            data = data[: rng.randrange(len(data) + 1)]
        elif how == 2:  # append garbage
            data += rng.randbytes(rng.randint(1, 64))
        elif how == 3 and len(data) >= 12:  # absurd section counts
            struct.pack_into("!HHHH", data, 4, *(rng.choice((0, 1, 2, 255, 65535)) for _ in range(4)))
        elif how == 4 and len(data) >= 4:  # any flags and opcode
            struct.pack_into("!H", data, 2, rng.randrange(65536))
        elif how == 5 and len(data) > 13:  # a compression pointer somewhere (loops, forward, out of range)
            i = rng.randrange(12, len(data) - 1)
            struct.pack_into(
                "!H", data, i, 0xC000 | rng.randrange(0x4000 if rng.random() < 0.3 else len(data) + 4)
            )
        elif how == 6 and len(data) > 12:  # a label length that lies
            data[rng.randrange(12, len(data))] = rng.choice((0x3F, 0x40, 0x80, 0xFF, 0x01))
        else:  # pure garbage
            data = bytearray(rng.randbytes(rng.randint(0, 600)))
    return bytes(data)


def start_resolver(tmp_path: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    dead = free_port()  # an upstream where nothing listens: forwarded names fail fast
    config = {
        "listen": {"host": HOST, "port": port},
        "local_zones": [{"name": LOCAL_NAME, "type": "static", "data": "@ 30 IN A 10.20.0.10\n"}],
        "upstreams": [{"host": HOST, "port": dead}],
        "forward_timeout": 0.5,
        # One sender far above any resident's rate: this test is about parsing, not the rate limits
        # (with them on, most packets would be dropped before reaching the parser).
        "rate_limit": {"responses_per_second": 0, "work_per_second": 0},
    }
    path = tmp_path / "resolver.json"
    path.write_text(json.dumps(config))
    process = subprocess.Popen(
        [sys.executable, "-m", "services.resolver", "--config", str(path)],
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "resolver.log", "wb"),
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            dns.query.udp(dns.message.make_query(LOCAL_NAME, "A"), HOST, port=port, timeout=0.3)
            return process, port
        except Exception:
            if process.poll() is not None:
                break
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"the resolver did not start: {(tmp_path / 'resolver.log').read_text()}")


def good_answer(port: int, tcp: bool = False) -> dns.message.Message:
    """The crisis name, answered. UDP may lose a datagram in a flood, so up to three tries of
    one second; a crashed or stalled resolver fails all three."""
    query = dns.message.make_query(LOCAL_NAME, "A")
    for attempt in range(3):
        try:
            response = (dns.query.tcp if tcp else dns.query.udp)(query, HOST, port=port, timeout=1.0)
            break
        except dns.exception.Timeout:
            if attempt == 2:
                raise
    assert response.rcode() == dns.rcode.NOERROR
    assert [rr.to_text() for rr in response.answer[0]] == ["10.20.0.10"]
    return response


def drain(sock: socket.socket, quiet: float = 0.0) -> list[bytes]:
    """The replies that have come so far (and any within ``quiet`` seconds)."""
    replies = []
    while select.select([sock], [], [], quiet)[0]:
        try:
            replies.append(sock.recv(65535))
        except (BlockingIOError, ConnectionRefusedError):
            pass
    return replies


def test_hundred_thousand_mutated_packets_never_crash_or_stall_the_resolver(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    seeds = corpus()
    process, port = start_resolver(tmp_path)
    replies: list[bytes] = []
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as fuzz:
            fuzz.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            fuzz.setblocking(False)
            fuzz.connect((HOST, port))
            sent = 0
            while sent < PACKETS:
                for _ in range(BATCH):
                    try:
                        fuzz.send(mutate(rng, seeds))
                    except (BlockingIOError, ConnectionRefusedError):
                        pass
                    sent += 1
                good_answer(port)  # after every batch (queued behind it): still answering
                replies += drain(fuzz)
            replies += drain(fuzz, quiet=0.2)
        for _ in range(20):  # TCP: mutated messages, several per connection
            with socket.create_connection((HOST, port), timeout=2) as tcp:
                for _ in range(50):
                    message = mutate(rng, seeds)
                    try:
                        tcp.sendall(struct.pack("!H", len(message)) + message)
                    except (BrokenPipeError, ConnectionResetError):
                        break  # the resolver hung up on garbage too short to answer: allowed
            good_answer(port, tcp=True)
        assert process.poll() is None, "the resolver died"
    finally:
        process.terminate()
        process.wait(10)
    assert sent >= PACKETS
    assert len(replies) > PACKETS // 2  # it answered most (FORMERR, NXDOMAIN, SERVFAIL ...), not none
    assert all(len(r) >= 12 and r[2] & 0x80 for r in replies)  # only responses, never a reflected query
