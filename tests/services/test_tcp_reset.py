"""A connection closed by either helper is reset: the peer's read fails at once, it does not see an end."""

from __future__ import annotations

import asyncio
import socket

from services.tcp_reset import reset, reset_stream


async def client_reads(port: int) -> str:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"x")
    try:
        return f"read {await asyncio.wait_for(reader.read(1), 5)!r}"
    except ConnectionResetError:
        return "reset"
    finally:
        writer.close()


async def stream_closed_by(close: str) -> str:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)
        if close == "reset":
            reset_stream(writer)
        else:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        return await client_reads(server.sockets[0].getsockname()[1])
    finally:
        server.close()


async def test_a_stream_reset_is_felt_as_a_reset_and_a_plain_close_as_an_end() -> None:
    assert await stream_closed_by("reset") == "reset"
    assert await stream_closed_by("close") == "read b''"


async def test_a_socket_reset_is_felt_as_a_reset() -> None:
    loop = asyncio.get_running_loop()
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.setblocking(False)
        reading = asyncio.ensure_future(client_reads(listener.getsockname()[1]))
        conn, _ = await loop.sock_accept(listener)
        await loop.sock_recv(conn, 1)
        reset(conn)
        assert await reading == "reset"
