"""A TLS port beside uvicorn's HTTP port: the same app, the same HTTP protocol class, one process.

uvicorn serves one port per server; running a second server would run the app's lifespan twice.
So the TLS port is one more asyncio server built like uvicorn's own (its protocol class, its
connection state, so shutdown closes and drains it too), opened when a certificate is ready.
The certificate is swapped for new handshakes by an SNI callback: a renewal needs no restart.

With ``only_names`` (island mode's crisis site) each connection's first TLS record is peeked at
before the handshake, and a ClientHello for another name is answered with a TCP reset: a phone's
HTTPS check or an app that reached the island is refused at once, as if nothing listened there.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl

import uvicorn

from ..tcp_reset import reset
from .client_hello import read_hello, record_length

log = logging.getLogger("tls.listener")

# A client has this long to send its ClientHello (uvicorn's own handshake budget follows).
HELLO_SECONDS = 10.0


async def peek_hello(conn: socket.socket, limit: float = HELLO_SECONDS) -> bytes:
    """The first TLS record of ``conn``, peeked (left in the socket for the handshake), or less on timeout."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    data = b""
    while loop.time() < deadline:
        readable: asyncio.Future[None] = loop.create_future()
        loop.add_reader(conn.fileno(), _set_once, readable)
        try:
            await asyncio.wait_for(readable, max(deadline - loop.time(), 0.001))
        except TimeoutError:
            break
        finally:
            loop.remove_reader(conn.fileno())
        try:
            data = conn.recv(16384 + 5, socket.MSG_PEEK)
        except BlockingIOError:
            continue
        except OSError:
            break
        wanted = record_length(data)
        if not data or (wanted is not None and len(data) >= wanted):
            break
        await asyncio.sleep(0.01)  # part of the record: the socket stays readable until the rest comes
    return data


class TLSPort:
    """The HTTPS port of a uvicorn server; ``serve(context)`` opens it or swaps its certificate."""

    def __init__(self, host: str, port: int, only_names: set[str] | None = None) -> None:
        self.host, self.port = host, port
        # With names, a handshake for any other name (SNI) is refused at once: in island mode a phone's
        # HTTPS check or app reaching the island fails fast instead of meeting the wrong certificate.
        self.only_names = {name.lower().rstrip(".") for name in only_names} if only_names else None
        self._current: ssl.SSLContext | None = None
        self._listener: socket.socket | None = None
        self._accepting: asyncio.Task[None] | None = None
        self._server: uvicorn.Server | None = None
        self.refused = 0  # connections reset for a foreign name

    def attach(self, server: uvicorn.Server) -> None:
        self._server = server

    @property
    def is_open(self) -> bool:
        return self._listener is not None

    def _pick(self, ssl_object: ssl.SSLObject, name: str | None, _context: ssl.SSLContext) -> int | None:
        if (
            self.only_names is not None
            and name is not None
            and name.lower().rstrip(".") not in self.only_names
        ):
            return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME
        if self._current is not None:
            ssl_object.context = self._current
        return None

    async def serve(self, context: ssl.SSLContext) -> None:
        """Serve with ``context`` from the next handshake on; open the port the first time."""
        context.sni_callback = self._pick
        self._current = context
        if self._listener is not None:
            return
        server = self._server
        if server is None or not server.started:
            raise RuntimeError("the HTTP server has not started")
        listener = socket.create_server(
            (self.host, self.port), family=_family(self.host), backlog=server.config.backlog
        )
        listener.setblocking(False)
        self._listener = listener
        self._accepting = asyncio.create_task(self._accept(listener, server))
        log.info("HTTPS on %s:%d", self.host, self.port)

    async def _accept(self, listener: socket.socket, server: uvicorn.Server) -> None:
        loop = asyncio.get_running_loop()
        handshakes: set[asyncio.Task[None]] = set()
        while True:
            conn, _ = await loop.sock_accept(listener)
            task = asyncio.create_task(self._hand_over(conn, server))
            handshakes.add(task)  # kept until done: the loop holds tasks only weakly
            task.add_done_callback(handshakes.discard)

    def _foreign(self, hello: bytes) -> bool:
        if self.only_names is None:
            return False
        said = read_hello(hello)
        return said.name is not None and said.name not in self.only_names

    async def _hand_over(self, conn: socket.socket, server: uvicorn.Server) -> None:
        """Peek at the ClientHello; reset a foreign name, else hand the socket to uvicorn's protocol over TLS."""
        conn.setblocking(False)
        if self.only_names is not None:
            if self._foreign(await peek_hello(conn)):
                self.refused += 1
                reset(conn)
                return
        config, loop = server.config, asyncio.get_running_loop()

        def protocol() -> asyncio.Protocol:
            return config.http_protocol_class(  # type: ignore[call-arg]
                config=config, server_state=server.server_state, app_state=server.lifespan.state, _loop=loop
            )

        try:
            await loop.connect_accepted_socket(protocol, conn, ssl=self._current)
        except (OSError, ssl.SSLError, TimeoutError) as problem:
            log.debug("TLS handshake failed: %s", problem)
            conn.close()

    def stop_accepting(self) -> None:
        """Stop taking new connections (those open are uvicorn's to drain)."""
        listener, self._listener = self._listener, None
        if self._accepting is not None:
            self._accepting.cancel()
            self._accepting = None
        if listener is not None:
            listener.close()

    async def close(self, why: str) -> None:
        if self._listener is not None:
            self.stop_accepting()
            log.warning("HTTPS closed on %s:%d: %s", self.host, self.port, why)


class ServerWithTLS(uvicorn.Server):
    """uvicorn's server, starting ``on_started`` tasks (which open the TLS port) once it listens."""

    def __init__(self, config: uvicorn.Config, tls: TLSPort, keeper: object) -> None:
        super().__init__(config)
        self.tls = tls
        tls.attach(self)
        self._keeper = keeper
        self._task: asyncio.Task[None] | None = None

    async def startup(self, sockets: list[object] | None = None) -> None:  # type: ignore[override]
        await super().startup(sockets)  # type: ignore[arg-type]
        run = getattr(self._keeper, "run", None)
        if run is not None:
            self._task = asyncio.create_task(run(self.tls))

    async def shutdown(self, sockets: list[object] | None = None) -> None:  # type: ignore[override]
        if self._task is not None:
            self._task.cancel()
        self.tls.stop_accepting()
        await super().shutdown(sockets)  # type: ignore[arg-type]


def _set_once(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET
