"""The crisis site's HTTP attacks of issue 13, as a table of named attack functions (resident.Attack).

Each sends only to the site's loopback address from the attacker's addresses, and stops at its
stop event, its deadline or its own count, whichever comes first. tests/hostile/test_site_attacks.py
runs them against a real site; `make bench-hostile` measures the resident around them. The
*_answers functions return what the site answered, for the tests to check.
"""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Protocol

import httpx

if TYPE_CHECKING:
    from .resident import Attack

# No attack runs longer than this, whatever the caller does.
MAX_SECONDS = 150.0
GUESSERS = 8
# The per-address limit stops the hashing after 10 tries; the rest are 429s answered before the form is
# read. Enough that the guessers keep going for the whole of a bench row (the stop event ends them),
# however fast the site refuses them: a cheaper refusal must not make a shorter attack.
LOGINS_PER_GUESSER = 5000


class SiteTarget(Protocol):
    """What the attacks need of resident.Target (a frozen dataclass: read-only)."""

    @property
    def site_host(self) -> str: ...

    @property
    def site_port(self) -> int: ...

    def attacker_address(self, index: int) -> str: ...


class Stop(Protocol):
    def is_set(self) -> bool: ...


def _raw(target: SiteTarget, source: str, payload: bytes, filler: bytes = b"", most: int = 0) -> bytes:
    """Send a request head (and filler up to `most` bytes, until the site stops reading); the answer."""
    with socket.create_connection(
        (target.site_host, target.site_port), timeout=5, source_address=(source, 0)
    ) as sock:
        try:
            sock.sendall(payload)
            sent = 0
            while sent < most:
                sock.sendall(filler)
                sent += len(filler)
        except (BrokenPipeError, ConnectionResetError):
            pass
        data = b""
        try:
            while chunk := sock.recv(65536):
                data += chunk
        except (ConnectionResetError, TimeoutError):
            pass
        return data


def guess_passwords(
    target: SiteTarget, stop: Stop, logins: int = LOGINS_PER_GUESSER, account: str = "anna"
) -> list[int]:
    """GUESSERS addresses guessing an editor's password (the account "anna") at once; the statuses answered."""
    base = f"http://{target.site_host}:{target.site_port}"
    deadline = time.monotonic() + MAX_SECONDS
    statuses: list[int] = []

    def guess(n: int) -> None:
        transport = httpx.HTTPTransport(local_address=target.attacker_address(n))
        token = ""
        # A short timeout: a guesser waiting behind the hashes gives up and tries again, and so
        # stops soon after the stop event.
        with httpx.Client(transport=transport, timeout=5) as c:
            for i in range(logins):
                if stop.is_set() or time.monotonic() > deadline:
                    return
                try:
                    form = c.get(f"{base}/redaktion/logga-in")
                    if 'name="csrf" value="' in form.text:  # past the limit the form is refused: post anyway
                        token = form.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
                    data = {"csrf": token, "username": account, "password": f"gissning {n} {i}"}
                    statuses.append(c.post(f"{base}/redaktion/logga-in", data=data).status_code)
                except httpx.TimeoutException:
                    continue

    with ThreadPoolExecutor(GUESSERS) as pool:
        list(pool.map(guess, range(GUESSERS)))
    return statuses


def oversized_answers(target: SiteTarget, stop: Stop, rounds: int = 30) -> list[bytes]:
    """Rounds of a 65 KB URL, a 100 MB and a 1 MB header, and 10,000 headers, from four addresses."""
    jobs = [
        lambda: _raw(target, target.attacker_address(10), b"GET /" + b"a" * 65_000 + b" HTTP/1.1\r\n\r\n"),
        lambda: _raw(
            target, target.attacker_address(11), b"GET / HTTP/1.1\r\nX-Big: ", b"a" * (1 << 20), 100 << 20
        ),
        lambda: _raw(
            target, target.attacker_address(12), b"GET / HTTP/1.1\r\nX-Big: ", b"a" * (1 << 20), 1 << 20
        ),
        lambda: _raw(
            target, target.attacker_address(13), b"GET / HTTP/1.1\r\n" + b"X-H: 1\r\n" * 10_000 + b"\r\n"
        ),
    ]
    deadline = time.monotonic() + MAX_SECONDS
    answers: list[bytes] = []
    with ThreadPoolExecutor(len(jobs)) as pool:
        for _ in range(rounds):
            if stop.is_set() or time.monotonic() > deadline:
                break
            answers.extend(pool.map(lambda job: job(), jobs))
    return answers


def dripping_answers(target: SiteTarget, stop: Stop, head_timeout: float = 10.0) -> list[bytes]:
    """300 connections from one address and 30 from each of ten more, each sending a head that
    never ends; what each got (408 after the head timeout, or 503 past the per-address cap)."""
    answers: list[bytes] = []
    lock = threading.Lock()

    def drip(source: str, count: int) -> None:
        socks = []
        for _ in range(count):
            if stop.is_set():
                break
            try:
                s = socket.create_connection(
                    (target.site_host, target.site_port), timeout=5, source_address=(source, 0)
                )
                s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
            except OSError:
                continue
            socks.append(s)
        for s in socks:
            try:
                s.settimeout(head_timeout + 3)
                answer = s.recv(64)
            except OSError:
                answer = b""
            s.close()
            with lock:
                answers.append(answer)

    holders = [(target.attacker_address(20), 300)] + [
        (target.attacker_address(21 + i), 30) for i in range(10)
    ]
    with ThreadPoolExecutor(len(holders)) as pool:
        list(pool.map(lambda holder: drip(*holder), holders))
    return answers


def password_guessing(target: SiteTarget, stop: Stop) -> int:
    return len(guess_passwords(target, stop))


def oversized_heads(target: SiteTarget, stop: Stop) -> int:
    return len(oversized_answers(target, stop, rounds=1000))


def dripping_connections(target: SiteTarget, stop: Stop) -> int:
    return len(dripping_answers(target, stop))


HTTP_ATTACKS: list[tuple[str, Attack]] = [
    ("8 password guessers, 8 addresses", password_guessing),
    ("65 KB URL, 1 MB / 100 MB header, 10,000 headers", oversized_heads),
    ("600 header-dripping connections, 11 addresses", dripping_connections),
]
