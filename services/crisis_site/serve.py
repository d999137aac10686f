"""Serving the site with uvicorn: request heads bounded, and the cached page answered inside the protocol.

Before any request reaches the app (or the cached page), the protocol below bounds its head: the
request line's length (414), the head's size and its number of headers (431), the time the head
may take to arrive (408), each answered and the connection closed; and one client address may
hold only so many connections (503). These run in the protocol, so they hold for the cached page
and for every request handed to the app alike.

uvicorn spends most of a small response's time on its per-request ASGI cycle (an event, a
task, the message dicts). For the cached resources none of that is needed: the protocol
below writes the cached bytes as soon as the request's headers are parsed, and hands every
other request to uvicorn unchanged. So for a refused login (login_gate.early: an address past
its tries, or a POST while the site's hashing budget is spent): its page, rendered once, goes out
before the form is read, and the form's body is read and dropped by uvicorn; to an address past
its tries, a second late (HttpLimits.limited_answer_delay), so that a guesser cannot ask again at
once. It leans on uvicorn's httptools protocol, so it is used only when that protocol has the
parts it needs; otherwise the ASGI fast path still applies.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from services.crisis_site.cache import Answer, FastPath, LimitedAnswer

if TYPE_CHECKING:
    from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

log = logging.getLogger("crisis_site.serve")


class _NoWaiter:
    def set(self) -> None:  # nobody waits on a request answered here
        pass


class _Answered:
    """Stands in for uvicorn's request cycle once a request was answered here."""

    response_complete = True
    keep_alive = True
    message_event = _NoWaiter()


_ANSWERED = _Answered()
KEPT_HEADS = 256  # response heads kept per second: every resource, language and encoding (see _head)


@dataclass(frozen=True)
class HttpLimits:
    """What one request head and one client address may cost the site (docs/security.md)."""

    max_request_line: int = 8 * 1024  # 414 past it
    max_head: int = 32 * 1024  # request line and headers together; 431 past it
    max_headers: int = 100  # 431 past it
    head_timeout: float = 10.0  # seconds for a whole request head to arrive; 408 after it
    connections_per_address: int = 32  # open connections from one client address; 503 past it
    # An address past its login tries waits this long for each refusal (429) on a connection that
    # reads nothing more meanwhile: it can then cost the site at most connections_per_address
    # answers a second, where eight guessers sent 1,300 a second, each waking the site's loop.
    limited_answer_delay: float = 1.0


_REASONS = {
    408: (b"Request Timeout", "Begäran kom för långsamt. / The request was too slow."),
    414: (b"URI Too Long", "Adressen är för lång. / The address is too long."),
    431: (b"Request Header Fields Too Large", "Begäran är för stor. / The request is too large."),
    503: (b"Service Unavailable", "För många anslutningar. / Too many connections."),
}


class _Refuse(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def protocol_class(
    fast_path: FastPath | None, limits: HttpLimits = HttpLimits()
) -> type[asyncio.Protocol] | str:
    """uvicorn's httptools protocol with the limits above and the cached page answered inside it,
    or "auto" when that protocol is not there (uvicorn's own limits then apply, see __main__)."""
    try:
        import httptools
        from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
    except ImportError:
        return "auto"
    # The parts used below; tests/services/crisis_site/test_serve.py checks the behaviour on a real socket.
    needed = (
        "on_message_begin",
        "on_url",
        "on_header",
        "on_headers_complete",
        "on_response_complete",
        "on_body",
        "on_message_complete",
        "send_400_response",
        "_unset_keepalive_if_required",
        "timeout_keep_alive_handler",
    )
    if not all(callable(getattr(HttpToolsProtocol, n, None)) for n in needed):
        log.warning("uvicorn's httptools protocol changed; serving with uvicorn's own protocol")
        return "auto"
    # Open connections per client address, for the one event loop this server runs on.
    open_from: dict[str, int] = {}
    # Response heads, built once per status, header list and keep-alive while uvicorn's default headers stay
    # the same list: uvicorn makes a new one when its date moves (each second), and then heads are built anew.
    # The cache's header lists are kept objects; a refused login's are new each time, so at most
    # KEPT_HEADS are kept a second. Each entry holds its list, so a new list never meets an old head.
    heads: dict[tuple[int, int, bool], tuple[object, bytes]] = {}
    dated: list[tuple[bytes, bytes]] | None = None  # the default headers the kept heads were built with

    def _head(
        status: int,
        default: list[tuple[bytes, bytes]],
        headers: list[tuple[bytes, bytes]],
        keep_alive: bool,
    ) -> bytes:
        nonlocal dated
        if default is not dated:
            heads.clear()
            dated = default
        key = (status, id(headers), keep_alive)
        known = heads.get(key)
        if known is not None and known[0] is headers:
            return known[1]
        parts: list[bytes] = [STATUS_LINE[status]]
        for name, value in (*default, *headers):
            parts += (name, b": ", value, b"\r\n")
        if not keep_alive:
            parts.append(b"connection: close\r\n")
        parts.append(b"\r\n")
        head = b"".join(parts)
        if len(heads) < KEPT_HEADS:
            heads[key] = (headers, head)
        return head

    class SiteProtocol(HttpToolsProtocol):
        """Every request head is bounded in size, count of headers and time before the app sees it:
        a 100 MB header costs one chunk's parse, not the parser's quadratic copying of it."""

        _address: str | None = None
        _timer: asyncio.Handle | None = None  # due at _timer_at
        _timer_at = 0.0
        _head_deadline = 0.0  # 408 if the head is not whole by then
        # After a response, the connection is closed if no byte of a next request came by then; 0 once one did.
        _idle_deadline = 0.0
        _held: asyncio.TimerHandle | None = None  # a refusal waiting to be sent (limited_answer_delay)
        _keep_held = True

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._closed = False
            address = self.client[0] if self.client else None
            if address is not None and open_from.get(address, 0) >= limits.connections_per_address:
                self._refuse(503)
                return
            if address is not None:
                self._address = address
                open_from[address] = open_from.get(address, 0) + 1
            self._await_head(idle=False)

        def connection_lost(self, exc: Exception | None) -> None:
            self._closed = True
            self._stop_timer()
            if self._held is not None:
                self._held.cancel()
                self._held = None
            if self._address is not None:
                left = open_from[self._address] - 1
                if left:
                    open_from[self._address] = left
                else:
                    del open_from[self._address]
                self._address = None
            super().connection_lost(exc)

        def _await_head(self, idle: bool) -> None:
            """Time the next request's head from now, and with ``idle`` (after a response) the keep-alive too."""
            self._head_bytes = 0
            self._reading_head = True
            self._header_count = 0
            now = self.loop.time()
            self._head_deadline = now + limits.head_timeout
            self._idle_deadline = now + self.timeout_keep_alive if idle else 0.0
            self._arm(min(self._head_deadline, self._idle_deadline or self._head_deadline))

        def _arm(self, deadline: float) -> None:
            # One timer per connection, moved on by the deadlines: a keep-alive request costs no new timer.
            if self._timer is not None:
                if self._timer_at <= deadline:
                    return  # it fires first, and looks at the deadlines then
                self._timer.cancel()
            self._timer_at = deadline
            self._timer = self.loop.call_at(deadline, self._due)

        def _due(self) -> None:
            self._timer = None
            if self._closed:
                return
            head = self._head_deadline if self._reading_head else 0.0
            due = min(head or self._idle_deadline, self._idle_deadline or head)
            if not due:
                return  # a request is being answered; the next _await_head arms a timer again
            if self.loop.time() < due:  # moved on by a later request
                self._arm(due)
            elif due == self._idle_deadline:
                self.timeout_keep_alive_handler()  # uvicorn's: no byte of a next request came in time
            else:
                self._refuse(408)

        def _stop_timer(self) -> None:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

        def _refuse(self, status: int) -> None:
            if self._closed:
                return
            self._closed = True
            self._stop_timer()
            reason, text = _REASONS[status]
            body = text.encode("utf-8")
            self.transport.write(
                b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: %d\r\n"
                b"connection: close\r\n\r\n%s" % (status, reason, len(body), body)
            )
            self.transport.close()

        def data_received(self, data: bytes) -> None:
            if self._closed:
                return
            self._idle_deadline = 0.0  # a next request began: the keep-alive no longer applies
            if self._reading_head:
                self._head_bytes += len(data)
            try:
                super().data_received(data)
            except _Refuse as refusal:  # raised by the checks below when uvicorn let it through
                self._refuse(refusal.status)
                return
            if self._reading_head and not self._closed and self._head_bytes > limits.max_head:
                self._refuse(431 if self.url or self.headers else 414)

        def send_400_response(self, msg: str) -> None:
            # A parser error raised by a check below arrives here as the parser's callback error.
            cause = sys.exc_info()[1]
            refusal = getattr(cause, "__context__", None)
            if isinstance(refusal, _Refuse):
                self._refuse(refusal.status)
                return
            self._closed = True
            super().send_400_response(msg)

        def on_message_begin(self) -> None:
            # uvicorn builds the request's ASGI scope here (about 1 µs a request); a cached answer needs
            # none, so it is built in on_headers_complete, for a request handed to the app.
            self.url = b""
            self.expect_100_continue = False
            self.headers = []

        def _make_scope(self) -> None:
            """uvicorn's on_message_begin, keeping what the parser's callbacks have set since."""
            url, headers, expect = self.url, self.headers, self.expect_100_continue
            super().on_message_begin()
            self.url, self.headers, self.expect_100_continue = url, headers, expect
            self.scope["headers"] = headers

        def on_url(self, url: bytes) -> None:
            super().on_url(url)
            if len(self.url) > limits.max_request_line:
                raise _Refuse(414)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._header_count += 1
            if self._header_count > limits.max_headers:
                raise _Refuse(431)
            super().on_header(name, value)

        def on_headers_complete(self) -> None:
            self._reading_head = False  # the head timer, if it fires, lets the connection be
            if self._held is not None:  # a request pipelined behind a held refusal: not answered,
                self._keep_held = False  # and the connection closes once the refusal is sent
                return
            parser = self.parser
            idle = (self.cycle is None or self.cycle.response_complete) and not self.pipeline
            if fast_path is not None and idle and not parser.should_upgrade():
                method = parser.get_method()
                if method in (b"GET", b"HEAD", b"POST"):  # POST: only a login refused before its form
                    url = httptools.parse_url(self.url)
                    found = fast_path.answer(
                        url.path.decode("latin-1"),
                        method.decode("ascii"),
                        url.query or b"",
                        self.headers,
                        self.client[0] if self.client else None,
                    )
                    if found is not None:
                        self._write(found, parser.get_http_version() != "1.0" and parser.should_keep_alive())
                        return
            self._make_scope()
            super().on_headers_complete()

        def on_response_complete(self) -> None:
            # After the app's response uvicorn arms its own keep-alive timer; only the head is timed here.
            super().on_response_complete()
            if not self._closed and not self.transport.is_closing():
                self._await_head(idle=False)  # the next request's head, if any, is timed from now

        def _write(self, found: Answer, keep_alive: bool) -> None:
            status, headers, body = found
            data = _head(status, self.server_state.default_headers, headers, keep_alive) + body
            # The request's body, if any, is read and dropped by uvicorn. _Answered has the parts of a
            # cycle uvicorn reads once a response is complete, not the class: hence the cast.
            self.cycle = cast("RequestResponseCycle", _ANSWERED)
            if isinstance(found, LimitedAnswer) and limits.limited_answer_delay > 0:
                self.flow.pause_reading()  # the rest of this chunk is parsed; nothing more is read
                self._keep_held = keep_alive
                self._held = self.loop.call_later(limits.limited_answer_delay, self._send_held, data)
                return
            self._send(data, keep_alive)

        def _send_held(self, data: bytes) -> None:
            self._held = None
            self.flow.resume_reading()  # paused while the refusal was held
            self._send(data, self._keep_held)

        def _send(self, data: bytes, keep_alive: bool) -> None:
            if self._closed or self.transport.is_closing():
                return
            self.transport.write(data)
            # What uvicorn's on_response_complete does for an idle connection (no pipeline, reading not
            # paused), copied rather than called: its keep-alive is a new timer per answer, this one rides
            # the connection's one timer. test_serve.py holds the copy to uvicorn's lines and behaviour.
            self.server_state.total_requests += 1  # answered, kept alive or not (--limit-max-requests)
            if keep_alive:
                self._await_head(idle=True)
            else:
                self.transport.close()

    return SiteProtocol
