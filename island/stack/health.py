"""The containers' healthchecks, with the standard library alone.

Docker runs a healthcheck every few seconds in every container. Importing httpx and the
DNS stack for each one costs about a third of a CPU second, which on a small machine steals
the time a scenario measures; these checks start in a few tens of milliseconds. They ask
what :func:`island.service_specs.island_services` asks (the same names and URLs), only cheaper.
"""

from __future__ import annotations

import secrets
import socket
import struct
import urllib.request


def dns_ok(name: str, host: str, port: int, timeout: float = 2.0) -> None:
    """One A query over UDP; raises unless the answer is NOERROR with at least one record."""
    query_id = secrets.randbelow(0x10000)
    qname = (
        b"".join(bytes([len(label)]) + label.encode("ascii") for label in name.rstrip(".").split(".")) + b"\0"
    )
    packet = struct.pack("!HHHHHH", query_id, 0x0100, 1, 0, 0, 0) + qname + struct.pack("!HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(packet, (host, port))
        reply = sock.recv(4096)
    answer_id, flags, _, answers = struct.unpack("!HHHH", reply[:8])
    if answer_id != query_id or not flags & 0x8000:
        raise RuntimeError(f"{host}:{port}: not an answer to our query")
    if flags & 0xF or answers == 0:
        raise RuntimeError(f"{host}:{port}: rcode {flags & 0xF}, {answers} answers for {name}")


def http_ok(url: str, timeout: float = 2.0) -> None:
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({})
    )  # never a proxy from the environment
    with opener.open(url, timeout=timeout) as response:
        if response.status != 200:
            raise RuntimeError(f"{url}: HTTP {response.status}")
