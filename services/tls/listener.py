"""A TLS port beside uvicorn's HTTP port: the same app, the same HTTP protocol class, one process.

uvicorn serves one port per server; running a second server would run the app's lifespan twice.
So the TLS port is one more asyncio server built like uvicorn's own (its protocol class, its
connection state, so shutdown closes and drains it too), opened when a certificate is ready.
The certificate is swapped for new handshakes by an SNI callback: a renewal needs no restart.
"""

from __future__ import annotations

import asyncio
import logging
import ssl

import uvicorn

log = logging.getLogger("tls.listener")


class TLSPort:
    """The HTTPS port of a uvicorn server; ``serve(context)`` opens it or swaps its certificate."""

    def __init__(self, host: str, port: int, only_names: set[str] | None = None) -> None:
        self.host, self.port = host, port
        # With names, a handshake for any other name (SNI) is refused at once: in island mode a phone's
        # HTTPS check or app reaching the island fails fast instead of meeting the wrong certificate.
        self.only_names = {name.lower().rstrip(".") for name in only_names} if only_names else None
        self._current: ssl.SSLContext | None = None
        self._listener: asyncio.base_events.Server | None = None
        self._server: uvicorn.Server | None = None

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
        self._current = context
        if self._listener is not None:
            return
        server = self._server
        if server is None or not server.started:
            raise RuntimeError("the HTTP server has not started")
        context.sni_callback = self._pick
        config = server.config
        loop = asyncio.get_running_loop()

        def protocol() -> asyncio.Protocol:
            return config.http_protocol_class(  # type: ignore[call-arg]
                config=config, server_state=server.server_state, app_state=server.lifespan.state, _loop=loop
            )

        self._listener = await loop.create_server(
            protocol, self.host, self.port, ssl=context, backlog=config.backlog, reuse_address=True
        )
        server.servers.append(self._listener)  # closed and drained by uvicorn's shutdown
        log.info("HTTPS on %s:%d", self.host, self.port)

    async def close(self, why: str) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
            if self._server is not None and listener in self._server.servers:
                self._server.servers.remove(listener)
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
        await super().shutdown(sockets)  # type: ignore[arg-type]
