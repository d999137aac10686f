"""The server name (SNI) a TLS client asks for, read from its first record before any handshake.

The island's HTTPS port refuses a foreign name with a TCP reset, which every phone and app takes as
"refused" at once; deciding that needs the name before OpenSSL sees the connection (RFC 8446 4.1.2,
RFC 6066 3). Only the first record is read: a ClientHello split over records is "not known", and
the handshake then decides as before.
"""

from __future__ import annotations

from dataclasses import dataclass

RECORD_HEADER = 5
HANDSHAKE, CLIENT_HELLO, SERVER_NAME, HOST_NAME = 22, 1, 0, 0


@dataclass(frozen=True)
class Hello:
    complete: bool  # the whole first record is here (else: peek again)
    name: str | None = None  # the host name asked for, lower case, no trailing dot
    known: bool = False  # the record was a ClientHello that could be read to its end


def record_length(data: bytes) -> int | None:
    """The first record's length with its header, once the header is here."""
    if len(data) < RECORD_HEADER:
        return None
    return RECORD_HEADER + int.from_bytes(data[3:5], "big")


def read_hello(data: bytes) -> Hello:
    """What the first TLS record in ``data`` says about the server name."""
    length = record_length(data)
    if length is None or len(data) < length:
        return Hello(complete=False)
    if data[0] != HANDSHAKE:
        return Hello(complete=True)
    try:
        return Hello(complete=True, name=_server_name(data[RECORD_HEADER:length]), known=True)
    except (IndexError, ValueError):
        return Hello(complete=True)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def take(self, n: int) -> bytes:
        if self.at + n > len(self.data):
            raise ValueError("truncated")
        part, self.at = self.data[self.at : self.at + n], self.at + n
        return part

    def number(self, size: int) -> int:
        return int.from_bytes(self.take(size), "big")

    def vector(self, size: int) -> bytes:
        return self.take(self.number(size))


def _server_name(record: bytes) -> str | None:
    body = _Reader(record)
    if body.number(1) != CLIENT_HELLO:
        raise ValueError("not a ClientHello")
    hello = _Reader(body.vector(3))
    hello.take(2 + 32)  # legacy version, random
    hello.vector(1)  # session id
    hello.vector(2)  # cipher suites
    hello.vector(1)  # compression methods
    if hello.at == len(hello.data):
        return None  # no extensions at all
    extensions = _Reader(hello.vector(2))
    while extensions.at < len(extensions.data):
        kind, data = extensions.number(2), extensions.vector(2)
        if kind == SERVER_NAME:
            names = _Reader(_Reader(data).vector(2))
            while names.at < len(names.data):
                name_type, name = names.number(1), names.vector(2)
                if name_type == HOST_NAME:
                    return name.decode("ascii").lower().rstrip(".")
    return None
