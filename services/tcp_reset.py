"""Closing a TCP connection with a reset instead of a FIN: the peer's connect or next read fails at once.

A refusal that should be felt as "nothing there" (a foreign name at the island's HTTPS port, a phone's
connection to the outside behind the closed gate) is a reset, never a connection closed politely or
left to time out.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct

# SO_LINGER on, zero seconds: close() sends a reset instead of a FIN.
RESET_ON_CLOSE = struct.pack("ii", 1, 0)


def reset(conn: socket.socket) -> None:
    """Close ``conn`` with a TCP reset."""
    with contextlib.suppress(OSError):
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, RESET_ON_CLOSE)
    conn.close()


def reset_stream(writer: asyncio.StreamWriter) -> None:
    """Close an asyncio stream's connection with a TCP reset (its socket belongs to the transport)."""
    with contextlib.suppress(OSError):
        writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, RESET_ON_CLOSE)
    writer.transport.abort()
