"""Checking ports before binding, so a clash is reported by name instead of as a traceback."""

from __future__ import annotations

import socket
from collections.abc import Iterable

Port = tuple[str, int, str]  # host, port, "tcp" | "udp"


def is_taken(host: str, port: int, proto: str = "tcp") -> bool:
    kind = socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM
    try:
        infos = socket.getaddrinfo(host, port, type=kind, flags=socket.AI_PASSIVE)
    except socket.gaierror:
        return False  # a bad host is reported by the bind itself
    family, type_, proto_num, _, addr = infos[0]
    with socket.socket(family, type_, proto_num) as sock:
        if kind == socket.SOCK_STREAM:
            # As servers bind: a port in TIME_WAIT is free to reuse.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(addr)
        except OSError:
            return True
    return False


def describe(port: Port) -> str:
    host, number, proto = port
    return f"port {number}/{proto} on {host}"


def first_taken_port(ports: Iterable[Port]) -> str | None:
    """A description of the first port that is already in use, or None when all are free."""
    for port in ports:
        if is_taken(*port):
            return describe(port)
    return None
