"""Request heads are bounded before the app sees them, on the cached page and on the app's own
paths alike, and one address holds only so many connections: a real site process, real sockets."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from site_helpers import free_port, run_site, stop_site, wait_healthy

pytestmark = pytest.mark.e2e

ATTACKER = "127.0.0.2"  # another loopback address than the resident's 127.0.0.1
PER_ADDRESS = 8


@pytest.fixture(scope="module")
def site() -> Iterator[tuple[str, int, int]]:
    port = free_port()
    proc = run_site(
        "--host", "127.0.0.1", "--port", str(port),
        "--head-timeout", "1", "--connections-per-address", str(PER_ADDRESS),
    )  # fmt: skip
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc)
        yield "127.0.0.1", port, proc.pid
    finally:
        stop_site(proc)


def connect(site: tuple[str, int, int], source: str = ATTACKER) -> socket.socket:
    sock = socket.create_connection(site[:2], timeout=5, source_address=(source, 0))
    return sock


def answer_then_close(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data


def send_until_closed(sock: socket.socket, head: bytes, filler: bytes, most: int) -> bytes:
    """Send the head, then the filler up to `most` bytes or until the server stops reading; its answer."""
    sent = 0
    try:
        sock.sendall(head)
        while sent < most:
            sock.sendall(filler)
            sent += len(filler)
    except (BrokenPipeError, ConnectionResetError):
        pass
    return answer_then_close(sock)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime + stime, in clock ticks of 1/100 s


def page_ok(site: tuple[str, int, int]) -> float:
    start = time.monotonic()
    r = httpx.get(f"http://{site[0]}:{site[1]}/", timeout=5)
    assert r.status_code == 200 and "</html>" in r.text
    return time.monotonic() - start


def test_a_long_request_line_is_414_and_closed(site) -> None:
    with connect(site) as sock:
        sock.sendall(b"GET /" + b"a" * 65_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        assert answer_then_close(sock).startswith(b"HTTP/1.1 414 ")


@pytest.mark.parametrize("path", ["/", "/anhoriga/sok"])
def test_a_large_head_or_too_many_headers_is_431_and_closed(site, path: str) -> None:
    # "/" is answered inside the protocol, "/anhoriga/sok" by the app: the limits hold for both.
    with connect(site) as sock:
        big = send_until_closed(sock, f"GET {path} HTTP/1.1\r\nX-Big: ".encode(), b"a" * 65536, 1 << 20)
        assert big.startswith(b"HTTP/1.1 431 ")
    with connect(site) as sock:
        many = b"".join(b"X-H%d: 1\r\n" % i for i in range(10_000))
        assert send_until_closed(sock, f"GET {path} HTTP/1.1\r\n".encode() + many, b"\r\n", 1).startswith(
            b"HTTP/1.1 431 "
        )
    page_ok(site)


def test_a_100_mb_header_costs_the_site_a_few_ms_of_cpu(site) -> None:
    before = cpu_seconds(site[2])
    with connect(site) as sock:
        answer = send_until_closed(sock, b"GET / HTTP/1.1\r\nX-Big: ", b"a" * (1 << 20), 100 << 20)
    used = cpu_seconds(site[2]) - before
    assert answer.startswith(b"HTTP/1.1 431 ")
    assert used <= 0.05, f"the site spent {used:.2f} s of CPU on one oversized header"


def test_a_head_that_drips_in_is_408_after_the_head_timeout(site) -> None:
    with connect(site) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        start = time.monotonic()
        answer = b""
        try:
            for _ in range(20):  # one header byte every 0.2 s, never the end of the head
                sock.sendall(b"X")
                time.sleep(0.2)
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = answer_then_close(sock)
        assert answer.startswith(b"HTTP/1.1 408 ")
        assert time.monotonic() - start < 3


def test_a_body_is_not_counted_as_head_and_keep_alive_works(site) -> None:
    body = b"name=" + b"x" * 50_000 + b"&identifier=070"
    r = httpx.post(
        f"http://{site[0]}:{site[1]}/anhoriga/sok",
        content=body,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 200 and 'data-registry="not-found"' in r.text
    with httpx.Client(base_url=f"http://{site[0]}:{site[1]}") as c:
        for _ in range(3):  # the head timer is re-armed per request, not per connection
            assert c.get("/healthz").status_code == 200
            time.sleep(0.6)


def test_one_address_cannot_take_every_connection(site) -> None:
    held = [connect(site) for _ in range(PER_ADDRESS)]
    try:
        with connect(site) as extra:
            extra.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert answer_then_close(extra).startswith(b"HTTP/1.1 503 ")
        assert page_ok(site) < 1.0  # a resident at another address is served at once
    finally:
        for sock in held:
            sock.close()
    time.sleep(0.2)
    with connect(site) as again:  # the address's slots are given back when its connections close
        again.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert again.recv(100).startswith(b"HTTP/1.1 200 ")
