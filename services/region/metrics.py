"""The replicator's state over HTTP: GET /state (JSON) and GET /metrics (Prometheus text)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from services.region.state import ReplicationState


async def serve(state: Callable[[], ReplicationState], host: str, port: int) -> asyncio.Server:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), 5)
            while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
                pass
            parts = request.decode("latin-1").split()
            path = parts[1] if len(parts) >= 2 else ""
            if path == "/state":
                body, kind, status = json.dumps(state().to_json()).encode(), "application/json", "200 OK"
            elif path == "/metrics":
                body, kind, status = state().to_prometheus().encode(), "text/plain; version=0.0.4", "200 OK"
            else:
                body, kind, status = b"not found\n", "text/plain", "404 Not Found"
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(answer, host, port)
