"""Small helpers for the DNS tests: raw UDP/TCP exchanges (free ports and serving: net_helpers).

dnspython is used as the independent client, so the server is not tested with our own client.
"""

from __future__ import annotations

import asyncio
import struct

from net_helpers import HOST


class _Collect(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.datagrams: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr) -> None:
        self.datagrams.put_nowait(data)


async def udp_raw(data: bytes, port: int, timeout: float = 0.5) -> bytes | None:
    """Send raw bytes over UDP; the first datagram back, or None when nothing comes within ``timeout``."""
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(_Collect, remote_addr=(HOST, port))
    try:
        transport.sendto(data)
        try:
            return await asyncio.wait_for(protocol.datagrams.get(), timeout)
        except TimeoutError:
            return None
    finally:
        transport.close()


async def tcp_raw_many(packets: list[bytes], port: int, timeout: float = 2.0) -> list[bytes]:
    """Send several length-prefixed messages on ONE TCP connection and read as many answers."""
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        for packet in packets:
            writer.write(struct.pack("!H", len(packet)) + packet)
        await writer.drain()
        answers = []
        for _ in packets:
            (length,) = struct.unpack("!H", await asyncio.wait_for(reader.readexactly(2), timeout))
            answers.append(await asyncio.wait_for(reader.readexactly(length), timeout))
        return answers
    finally:
        writer.close()
