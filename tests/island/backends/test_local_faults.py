"""The local backend's fault handlers, one test each, through its fault table against a real uplink relay:
what a resident's traffic meets while the fault is on, and that healing gives the uplink back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from backend_test_helpers import Upstream, host, tcp_exchange, udp_exchange
from net_helpers import free_port

from island.backends.local import LocalBackend
from island.backends.local_uplink import RelayConfig, UplinkRelay
from island.backends.relay import control_socket
from island.contract import DNSCut, Latency, PacketLoss, UplinkCut
from island.state import StateDir


@dataclass
class Island:
    backend: LocalBackend
    front: str
    dns: int
    web: int

    async def dns_answers(self, wait: float = 1.0) -> bool:
        return await udp_exchange(self.front, self.dns, b"q", wait) == b"echo q"

    async def web_answers(self, wait: float = 1.0) -> bool:
        return await tcp_exchange(self.front, self.web, b"GET", wait) == b"echo GET"


@pytest.fixture
async def island(tmp_path: Path) -> AsyncIterator[Island]:
    state = StateDir(tmp_path / "state")
    state.path.mkdir()
    front, target = host(3), host(4)
    dns, web = free_port(target), free_port(target)
    upstream = await Upstream.start(target, [dns, web])
    config = RelayConfig(
        listen_host=front,
        target_host=target,
        udp_ports=[dns],
        tcp_ports=[dns, web],
        control_socket=control_socket(state),
        dns_port=dns,
    )
    relay = UplinkRelay(config)
    await relay.open()
    server = await relay.serve_control(config.control_socket)
    try:
        yield Island(LocalBackend(state), front, dns, web)
    finally:
        server.close()
        relay.close()
        upstream.close()


async def test_uplink_cut(island: Island) -> None:
    await island.backend.apply(UplinkCut(type="uplink-cut", mode="blackhole"))
    assert not await island.dns_answers(0.3) and not await island.web_answers(0.3)
    assert await island.backend.uplink() == "blackhole"
    await island.backend.heal(UplinkCut(type="uplink-cut"))
    assert await island.dns_answers() and await island.web_answers()


async def test_dns_cut(island: Island) -> None:
    await island.backend.apply(DNSCut(type="dns-cut", mode="blackhole"))
    assert not await island.dns_answers(0.3) and await island.web_answers()
    await island.backend.heal(DNSCut(type="dns-cut"))
    assert await island.dns_answers()


async def test_packet_loss(island: Island) -> None:
    await island.backend.apply(PacketLoss(type="packet-loss", percent=100))
    assert not any([await island.dns_answers(0.1) for _ in range(5)])
    await island.backend.heal(PacketLoss(type="packet-loss", percent=100))
    assert await island.dns_answers()


async def test_latency(island: Island) -> None:
    import time

    await island.backend.apply(Latency(type="latency", delay_ms=250))
    started = time.monotonic()
    assert await island.dns_answers()
    assert time.monotonic() - started >= 0.25
    await island.backend.heal(Latency(type="latency", delay_ms=250))
    started = time.monotonic()
    assert await island.dns_answers()
    assert time.monotonic() - started < 0.25
