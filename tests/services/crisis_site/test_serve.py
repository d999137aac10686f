"""The cached page answered inside uvicorn's HTTP protocol: a real process, a real socket."""

from __future__ import annotations

import inspect
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from site_helpers import app_with, free_port, run_site, stop_site, wait_healthy
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from services.crisis_site.serve import protocol_class

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def site() -> Iterator[tuple[str, int]]:
    port = free_port()
    proc = run_site("--host", "127.0.0.1", "--port", str(port))
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc)
        yield "127.0.0.1", port
    finally:
        stop_site(proc)


def read_response(sock: socket.socket, buffer: bytearray) -> tuple[bytes, dict[bytes, bytes], bytes]:
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection"
        buffer += chunk
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    status, *lines = head.split(b"\r\n")
    headers = {k.lower(): v for k, v in (line.split(b": ", 1) for line in lines)}
    length = int(headers.get(b"content-length", b"0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        assert chunk
        rest += chunk
    buffer[:] = rest[length:]
    return status, headers, rest[:length]


def request(path: str, extra: str = "") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: krisinfo.kommun.example\r\nAccept-Encoding: gzip\r\n{extra}\r\n".encode()


def test_cached_and_framework_requests_share_one_connection(site) -> None:
    host, port = site
    expected = httpx.get(f"http://{host}:{port}/", headers={"Accept-Encoding": "gzip"})
    with socket.create_connection((host, port), timeout=5) as sock:
        buffer = bytearray()
        for path in ("/", "/healthz", "/api/crisis.json", "/?lang=ar", "/healthz", "/"):
            sock.sendall(request(path))
            status, headers, body = read_response(sock, buffer)
            assert status == b"HTTP/1.1 200 OK", path
            assert b"date" in headers and b"x-content-type-options" in headers
            if path == "/":
                assert headers[b"content-encoding"] == b"gzip"
                assert headers[b"etag"].decode() == expected.headers["etag"]
                assert len(body) == int(expected.headers["content-length"])


def test_a_cached_answer_carries_the_current_date(site) -> None:
    """The cached answer's head is built once and kept: its Date must still move with the clock."""
    host, port = site
    with socket.create_connection((host, port), timeout=5) as sock:
        buffer = bytearray()
        sock.sendall(request("/"))
        _, first, body = read_response(sock, buffer)
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            time.sleep(0.2)
            sock.sendall(request("/"))
            _, later, again = read_response(sock, buffer)
            if later[b"date"] != first[b"date"]:
                break
    assert later[b"date"] != first[b"date"], "the Date header did not move in 3 s"
    assert {k: v for k, v in later.items() if k != b"date"} == {
        k: v for k, v in first.items() if k != b"date"
    }
    assert again == body


@pytest.mark.parametrize("order", [("/healthz", "/"), ("/", "/healthz"), ("/", "/", "/api/crisis.json")])
def test_pipelined_requests_are_answered_in_order(site, order) -> None:
    host, port = site
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(b"".join(request(path) for path in order))
        buffer = bytearray()
        for path in order:
            status, headers, body = read_response(sock, buffer)
            assert status == b"HTTP/1.1 200 OK"
            kind = headers[b"content-type"]
            assert kind.startswith(b"text/html" if path == "/" else b"application/json"), (path, kind)


def test_conditional_head_and_http_10(site) -> None:
    host, port = site
    base = f"http://{host}:{port}"
    first = httpx.get(f"{base}/feeds/cap.xml")
    assert first.status_code == 200 and first.headers["content-type"].startswith("application/xml")
    again = httpx.get(f"{base}/feeds/cap.xml", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    head = httpx.head(f"{base}/")
    assert head.status_code == 200 and head.content == b"" and int(head.headers["content-length"]) > 1000
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):  # HTTP/1.0: the server closes when done
            data += chunk
    assert (
        data.startswith(b"HTTP/1.1 200 OK")
        and b"connection: close" in data
        and data.rstrip().endswith(b"</html>")
    )


def test_other_methods_still_reach_the_framework(site) -> None:
    host, port = site
    r = httpx.post(f"http://{host}:{port}/", data={"a": "b"})
    assert r.status_code == 405
    assert r.headers["x-content-type-options"] == "nosniff"


def login_request(extra: str = "") -> bytes:
    return request("/redaktion/logga-in", extra).replace(b"GET", b"POST", 1)


def test_an_address_past_its_login_tries_waits_for_each_refusal_and_no_one_else_does(site) -> None:
    """A guesser's address (127.0.0.2) spends its 10 tries; each refusal after that is sent a second
    late on a connection that reads nothing meanwhile, while a resident's page is answered at once,
    and a request pipelined behind a held refusal closes the connection."""
    host, port = site
    base = f"http://{host}:{port}"
    with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2"), base_url=base) as guesser:
        for _ in range(12):  # some are "upptagen" (the site's hashing budget): those count as tries too
            form = guesser.get("/redaktion/logga-in")
            if form.status_code == 429:
                break
            token = form.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
            guesser.post(
                "/redaktion/logga-in", data={"csrf": token, "username": "anna", "password": "gissning"}
            )
        assert form.status_code == 429 and "minuter" in form.text
    with socket.create_connection((host, port), timeout=5, source_address=("127.0.0.2", 0)) as sock:
        buffer = bytearray()
        for ask in (request("/redaktion/logga-in"), login_request("Content-Length: 5\r\n") + b"a=b&c"):
            sent = time.monotonic()
            sock.sendall(ask)
            page = httpx.get(f"{base}/")  # a resident, meanwhile
            assert page.status_code == 200 and time.monotonic() - sent < 0.5
            status, headers, _ = read_response(sock, buffer)
            assert status == b"HTTP/1.1 429 Too Many Requests" and int(headers[b"retry-after"]) > 60
            assert time.monotonic() - sent >= 0.9, "the refusal was not held"
        sock.sendall(request("/redaktion/logga-in") + request("/"))  # the second behind a held refusal
        status, _, _ = read_response(sock, buffer)
        assert status == b"HTTP/1.1 429 Too Many Requests" and sock.recv(65536) == b""


KEEP_ALIVE = 5.0  # seconds an idle connection is kept (services/crisis_site/__main__.py)
HEAD_TIMEOUT = 10.0  # the default --head-timeout, the other deadline on the connection's one timer


def test_a_keep_alive_connection_lasts_while_asked_and_closes_when_idle(site) -> None:
    """Each cached answer moves the connection's keep-alive on: asked every 2 s it outlives the first
    answer's 5 s; idle after its last answer, it is closed after the keep-alive, not the head timeout."""
    host, port = site
    with socket.create_connection((host, port), timeout=HEAD_TIMEOUT + 5) as sock:
        buffer = bytearray()
        for asked in range(4):  # at 0, 2, 4 and 6 s
            if asked:
                time.sleep(2.0)
            sock.sendall(request("/"))
            status, _, body = read_response(sock, buffer)
            assert status == b"HTTP/1.1 200 OK" and body
        answered = time.monotonic()
        assert sock.recv(1) == b"", "the idle connection should be closed by the site"
        idle = time.monotonic() - answered
    assert KEEP_ALIVE - 0.5 < idle < HEAD_TIMEOUT - 1, f"closed after {idle:.1f} s idle"


# uvicorn's HttpToolsProtocol.on_response_complete, its code lines: SiteProtocol._send does what it does
# for an idle connection (no pipeline, reading not paused) without calling it, so that the keep-alive
# rides the connection's one timer instead of a new timer per answer. When uvicorn changes it, read the
# new lines, make _send do the same, and copy them here.
UVICORN_ON_RESPONSE_COMPLETE = """
def on_response_complete(self) -> None:
self.server_state.total_requests += 1
if self.transport.is_closing():
return
self._unset_keepalive_if_required()
self.flow.resume_reading()
if self.pipeline:
cycle, app = self.pipeline.pop()
self._start_asgi_task(cycle, app)
else:
self.timeout_keep_alive_task = self.loop.call_later(
self.timeout_keep_alive, self.timeout_keep_alive_handler
)
"""


def test_what_a_cached_answer_does_after_writing_is_still_what_uvicorn_does() -> None:
    lines = (line.strip() for line in inspect.getsource(HttpToolsProtocol.on_response_complete).splitlines())
    code = [line for line in lines if line and not line.startswith("#")]
    assert code == UVICORN_ON_RESPONSE_COMPLETE.strip().splitlines(), (
        "uvicorn's on_response_complete changed: make SiteProtocol._send (services/crisis_site/serve.py) "
        "do what it now does for an idle connection"
    )


def test_a_cached_answer_counts_as_a_request_like_the_apps_and_the_request_limit_holds(
    tmp_path: Path,
) -> None:
    """uvicorn counts each answered request and stops after --limit-max-requests of them: a cached answer
    counts one, as an app's answer does, on a connection kept alive or closed after it."""
    app = app_with(tmp_path)
    limit = 5
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=free_port(),
            http=protocol_class(app.fast_path),
            lifespan="on",
            log_level="warning",
            limit_max_requests=limit,
        )
    )
    counted = server.server_state
    running = threading.Thread(target=server.run)  # not the main thread: uvicorn leaves the signals be
    running.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started and running.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.started
        address = ("127.0.0.1", server.config.port)

        def counts(expected: int) -> int:
            until = time.monotonic() + 1.0  # counted just after the bytes are written, on the server's thread
            while counted.total_requests < expected and time.monotonic() < until:
                time.sleep(0.005)
            return counted.total_requests

        with socket.create_connection(address, timeout=5) as sock:
            buffer = bytearray()
            for answered, path in enumerate(("/", "/healthz", "/", "/healthz"), 1):  # cached, app, ...
                sock.sendall(request(path))
                status, _, _ = read_response(sock, buffer)
                assert status == b"HTTP/1.1 200 OK" and counts(answered) == answered, path
        time.sleep(0.3)  # uvicorn looks at the count every 0.1 s: one short of the limit, it serves on
        assert running.is_alive()
        with socket.create_connection(address, timeout=5) as sock:
            sock.sendall(request("/", "Connection: close\r\n"))  # the limit's request, cached
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        assert data.startswith(b"HTTP/1.1 200 OK") and b"connection: close" in data
        assert counts(limit) == limit
        running.join(timeout=5)
        assert not running.is_alive(), "the server did not stop at its request limit"
    finally:
        server.should_exit = True
        running.join(timeout=10)
