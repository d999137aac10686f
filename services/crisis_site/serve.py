"""Serving the site with uvicorn, the cached page answered inside uvicorn's HTTP protocol.

uvicorn spends most of a small response's time on its per-request ASGI cycle (an event, a
task, the message dicts). For the cached resources none of that is needed: the protocol
below writes the cached bytes as soon as the request's headers are parsed, and hands every
other request to uvicorn unchanged. It leans on uvicorn's httptools protocol, so it is used
only when that protocol has the parts it needs; otherwise the ASGI fast path still applies.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from services.crisis_site.cache import FastPath

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


def protocol_class(fast_path: FastPath) -> type[asyncio.Protocol] | str:
    """uvicorn's httptools protocol with the cached page answered inside it, or "auto"."""
    try:
        import httptools
        from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
    except ImportError:
        return "auto"
    # The parts used below; tests/services/crisis_site/test_serve.py checks the behaviour on a real socket.
    needed = (
        "on_message_begin",
        "on_headers_complete",
        "on_response_complete",
        "on_body",
        "on_message_complete",
    )
    if not all(callable(getattr(HttpToolsProtocol, n, None)) for n in needed):
        log.warning("uvicorn's httptools protocol changed; serving through the ASGI fast path only")
        return "auto"

    class CachedPageProtocol(HttpToolsProtocol):
        def on_headers_complete(self) -> None:
            parser = self.parser
            idle = (self.cycle is None or self.cycle.response_complete) and not self.pipeline
            if idle and not parser.should_upgrade():
                method = parser.get_method()
                if method in (b"GET", b"HEAD"):
                    url = httptools.parse_url(self.url)
                    found = fast_path.answer(
                        url.path.decode("latin-1"), method.decode("ascii"), url.query or b"", self.headers
                    )
                    if found is not None:
                        self._write(found, parser.get_http_version() != "1.0" and parser.should_keep_alive())
                        return
            super().on_headers_complete()

        def _write(self, found: tuple[int, list[tuple[bytes, bytes]], bytes], keep_alive: bool) -> None:
            status, headers, body = found
            parts: list[Any] = [STATUS_LINE[status]]
            for name, value in (*self.server_state.default_headers, *headers):
                parts += (name, b": ", value, b"\r\n")
            if not keep_alive:
                parts.append(b"connection: close\r\n")
            parts += (b"\r\n", body)
            self.transport.write(b"".join(parts))
            self.cycle = _ANSWERED  # the request's body, if any, is read and dropped by uvicorn
            if keep_alive:
                self.on_response_complete()
            else:
                self.transport.close()

    return CachedPageProtocol
