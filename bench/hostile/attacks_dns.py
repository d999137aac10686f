"""The DNS attacks of issue 13, as a table of named attack functions (see resident.Attack).

Each runs in its own process, sends only to the island resolver's loopback address from the
attacker's, and stops at its stop event, its deadline or its packet budget, whichever comes
first. The site's HTTP attacks live in a module of their own with a table of the same shape.
"""

from __future__ import annotations

import functools
import os
import random
import socket
import struct
import threading
import time
from collections.abc import Callable
from multiprocessing.synchronize import Event

from .resident import Attack, Target

# No attack runs longer than this or sends more than this many packets, whatever the caller does.
MAX_SECONDS = 150.0
MAX_PACKETS = 2_000_000

_A_IN = b"\x00\x01\x00\x01"


def _wire_name(name: str) -> bytes:
    return b"".join(bytes([len(label)]) + label.encode() for label in name.strip(".").split(".")) + b"\x00"


def _header(qd: int = 1, an: int = 0, ns: int = 0, ar: int = 0) -> bytes:
    return struct.pack("!HHHHHH", random.randrange(0x10000), 0x0100, qd, an, ns, ar)


def _opt(version: int = 0, owner: bytes = b"\x00") -> bytes:
    # TTL: extended rcode 0, then the EDNS version, then the flags.
    return owner + struct.pack("!HHBBHH", 41, 1232, 0, version, 0, 0)


def _paced_udp(target: Target, stop: Event, rate: float, packets: Callable[[], bytes], seconds: float) -> int:
    """Send ``packets()`` at ``rate`` per second from the attacker to the resolver; returns how many."""
    deadline = time.monotonic() + min(seconds, MAX_SECONDS)
    sent = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((target.attacker, 0))
        sock.setblocking(False)
        started = time.monotonic()
        while not stop.is_set() and sent < MAX_PACKETS:
            now = time.monotonic()
            if now >= deadline:
                break
            due = int((now - started) * rate) + 1
            while sent < due:
                try:
                    sock.sendto(packets(), (target.resolver_host, target.resolver_port))
                except (BlockingIOError, ConnectionRefusedError):
                    pass  # the attacker's own buffer is full, or an ICMP error: keep going
                sent += 1
            _drain(sock)
            time.sleep(min(0.005, max(0.0, started + sent / rate - time.monotonic())))
    return sent


def _drain(sock: socket.socket) -> None:
    """Throw away the answers (an attacker does not read them; this keeps the buffer empty)."""
    try:
        while True:
            sock.recv(65535)
    except (BlockingIOError, ConnectionRefusedError):
        pass


def many_questions(target: Target, stop: Event, rate: float = 20) -> int:
    """qdcount=65535 with one question, 20 a second (issue 13: 110-180 ms of CPU each before)."""
    packet = _header(qd=65535)[2:] + _wire_name(target.crisis_name) + _A_IN
    return _paced_udp(target, stop, rate, lambda: os.urandom(2) + packet, 60)


def compressed_questions(target: Target, stop: Event, rate: float = 20) -> int:
    """10,000 questions, each a compression pointer to the first, 20 a second."""
    first = _wire_name(target.crisis_name) + _A_IN
    packet = _header(qd=10_000)[2:] + first + b"\xc0\x0c\x00\x01\x00\x01" * 9_999
    return _paced_udp(target, stop, rate, lambda: os.urandom(2) + packet, 60)


def long_names(target: Target, stop: Event, rate: float = 500) -> int:
    """Names of 257 to 400 octets (SERVFAIL and a 4 KB traceback each before), 500 a second."""

    def packet() -> bytes:
        labels = random.randint(5, 6)
        name = b"".join(b"\x3f" + os.urandom(63).hex()[:63].encode() for _ in range(labels)) + b"\x00"
        return _header() + name + _A_IN

    return _paced_udp(target, stop, rate, packet, 60)


def edns_abuse(target: Target, stop: Event, rate: float = 500) -> int:
    """EDNS version 1, two OPT records, an OPT owned by a name, an OPT among the answers: 500 a second."""
    question = _wire_name(f"x{random.randrange(10**6)}.{target.crisis_name}") + _A_IN
    variants = [
        _header(ar=1) + question + _opt(version=1),
        _header(ar=2) + question + _opt() + _opt(),
        _header(ar=1) + question + _opt(owner=b"\xc0\x0c"),
        _header(an=1) + question + _opt(),
    ]
    return _paced_udp(target, stop, rate, lambda: random.choice(variants), 60)


def random_names(target: Target, stop: Event, rate: float = 5_000) -> int:
    """A flood of never-seen outside names (each a cache miss sent upstream), 5,000 a second."""
    suffix = _wire_name("flood.example") + _A_IN

    def packet() -> bytes:
        return _header() + b"\x0c" + os.urandom(6).hex().encode() + suffix

    return _paced_udp(target, stop, rate, packet, 60)


TCP_HELD = 300


def held_tcp_connections(target: Target, stop: Event) -> int:
    """300 TCP connections from one address, held open and silent (1 ok / 76 failed before)."""
    deadline = time.monotonic() + 60
    held: list[socket.socket] = []
    opened = 0
    try:
        while not stop.is_set() and time.monotonic() < deadline:
            # Reopen what the resolver closed (over its cap, or idle), up to 300 at a time.
            held = [s for s in held if not _closed(s)]
            while len(held) < TCP_HELD and opened < 20 * TCP_HELD:
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sock.bind((target.attacker, 0))
                sock.settimeout(1)
                try:
                    sock.connect((target.resolver_host, target.resolver_port))
                except OSError:
                    sock.close()
                    break
                sock.setblocking(False)
                held.append(sock)
                opened += 1
            stop.wait(0.2)
    finally:
        for sock in held:
            sock.close()
    return opened


def _closed(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def random_island_names(target: Target, stop: Event, rate: float = 5_000) -> int:
    """Made-up names under the crisis name (each an NXDOMAIN the island must work out), 5,000 a second."""
    suffix = _wire_name(target.crisis_name) + _A_IN

    def packet() -> bytes:
        return _header() + b"\x0c" + os.urandom(6).hex().encode() + suffix

    return _paced_udp(target, stop, rate, packet, 60)


def control_flood(target: Target, stop: Event, rate: float = 5_000) -> int:
    """Not an attack: the crisis name itself at the random-name flood's rate (ready answers only).

    The bench's anchor: what the same packet rate costs a resident on this machine when the
    resolver has no work to do, so the attacks' rows can be read against it.
    """
    packet = _header()[2:] + _wire_name(target.crisis_name) + _A_IN
    return _paced_udp(target, stop, rate, lambda: os.urandom(2) + packet, 60)


# The soak's background: every attack at once, at a tenth of the single-attack rates for the
# floods (the soak is about hours of steady abuse, not the peak; the peaks have their own tests).
BACKGROUND: list[Attack] = [
    many_questions,
    compressed_questions,
    functools.partial(long_names, rate=50),
    functools.partial(edns_abuse, rate=50),
    functools.partial(random_names, rate=500),
]


def background_abuse(target: Target, stop: Event) -> int:
    """BACKGROUND and the held TCP connections at once, each restarted when its own time is up, until stopped."""
    deadline = time.monotonic() + MAX_SECONDS
    attacks = [*BACKGROUND, held_tcp_connections]
    counts = [0] * len(attacks)

    def keep_running(index: int, attack: Attack) -> None:
        while not stop.is_set() and time.monotonic() < deadline:
            counts[index] += attack(target, stop)

    threads = [threading.Thread(target=keep_running, args=(i, a), daemon=True) for i, a in enumerate(attacks)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts)


DNS_ATTACKS: list[tuple[str, Attack]] = [
    ("qdcount 65535, 20/s", many_questions),
    ("10,000 compressed questions, 20/s", compressed_questions),
    ("names over 255 octets, 500/s", long_names),
    ("EDNS abuse (version 1, two OPTs, misplaced OPT), 500/s", edns_abuse),
    ("300 held TCP connections, one address", held_tcp_connections),
    ("random-name flood, 5,000/s", random_names),
    ("made-up names under the crisis name, 5,000/s", random_island_names),
]
