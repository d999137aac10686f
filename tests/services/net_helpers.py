"""Loopback helpers shared by the DNS and resolver tests (and the island's backends' tests): a free
port and a DNSServer served on one.

Importable as ``net_helpers`` because pyproject.toml puts tests/services on pytest's pythonpath.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator

from services.dns import DNSServer

HOST = "127.0.0.1"


def free_port(address: str = HOST) -> int:
    """A port on ``address`` (loopback) free for both UDP and TCP right now (nothing listens on it)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind((address, 0))
            port = tcp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind((address, port))
                except OSError:
                    continue
        return port
    raise RuntimeError(f"no port free for both UDP and TCP on {address}")


@contextlib.asynccontextmanager
async def serving(handler) -> AsyncIterator[int]:
    """Run a DNSServer for ``handler`` on a free loopback port; yields the port."""
    # Retry: another process may take the port between free_port() and the bind.
    for _ in range(5):
        port = free_port()
        server = DNSServer(handler, HOST, port)
        try:
            await server.start()
        except OSError:
            continue
        break
    else:
        raise RuntimeError("could not start the DNS server")
    try:
        yield port
    finally:
        await server.stop()
