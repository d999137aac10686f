"""The uplink relay on real sockets: it passes UDP and TCP, goes silent, refuses, cuts DNS only, loses and
delays, as its control socket tells it; a bad request is refused with the reason and changes nothing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from backend_test_helpers import Upstream, host, tcp_exchange, udp_exchange
from net_helpers import free_port

from island.backends.local_uplink import RelayConfig, UplinkRelay, control


@dataclass
class World:
    relay: UplinkRelay
    front: str  # where the island sends
    dns: int
    web: int
    socket: str

    async def steer(self, **settings: object) -> dict:
        return await control(self.socket, settings)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    front, target = host(1), host(2)
    dns, web = free_port(target), free_port(target)
    upstream = await Upstream.start(target, [dns, web])
    socket = str(tmp_path / "uplink.sock")
    config = RelayConfig(
        listen_host=front,
        target_host=target,
        udp_ports=[dns],
        tcp_ports=[dns, web],
        control_socket=socket,
        dns_port=dns,
    )
    relay = UplinkRelay(config)
    await relay.open()
    server = await relay.serve_control(socket)
    world = World(relay, front, dns, web, socket)
    try:
        yield world
    finally:
        server.close()
        world.relay.close()
        upstream.close()


async def test_up_it_passes_udp_and_tcp_both_ways(world: World) -> None:
    assert await udp_exchange(world.front, world.dns, b"q") == b"echo q"
    assert await tcp_exchange(world.front, world.web, b"GET") == b"echo GET"
    assert (await world.steer())["mode"] == "up"


async def test_blackhole_answers_nothing_at_all(world: World) -> None:
    reply = await world.steer(mode="blackhole")
    assert reply["ok"] and reply["mode"] == "blackhole"
    assert await udp_exchange(world.front, world.dns, b"q", wait=0.5) is None
    assert await tcp_exchange(world.front, world.web, b"GET", wait=0.5) is None
    await world.steer(mode="up")
    assert await udp_exchange(world.front, world.dns, b"q") == b"echo q", "restored, it passes again"


async def test_reject_fails_fast(world: World) -> None:
    await world.steer(mode="reject")
    started = time.monotonic()
    assert isinstance(await udp_exchange(world.front, world.dns, b"q"), ConnectionRefusedError)
    assert isinstance(await tcp_exchange(world.front, world.web, b"GET"), ConnectionRefusedError)
    assert time.monotonic() - started < 0.5
    await world.steer(mode="up")
    assert await tcp_exchange(world.front, world.web, b"GET") == b"echo GET", "it listens again"


async def test_a_dns_cut_leaves_the_web_alone(world: World) -> None:
    await world.steer(dns_mode="blackhole")
    assert await udp_exchange(world.front, world.dns, b"q", wait=0.5) is None
    assert await tcp_exchange(world.front, world.dns, b"q", wait=0.5) is None
    assert await tcp_exchange(world.front, world.web, b"GET") == b"echo GET"


async def test_loss_drops_that_share_of_what_the_island_sends(world: World) -> None:
    await world.steer(loss=100)
    assert [await udp_exchange(world.front, world.dns, b"q", wait=0.2) for _ in range(5)] == [None] * 5
    await world.steer(loss=0)
    assert await udp_exchange(world.front, world.dns, b"q") == b"echo q"


async def test_latency_holds_the_answers_back(world: World) -> None:
    await world.steer(delay_ms=300, jitter_ms=0)
    started = time.monotonic()
    assert await udp_exchange(world.front, world.dns, b"q") == b"echo q"
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    assert await tcp_exchange(world.front, world.web, b"GET") == b"echo GET"
    assert time.monotonic() - started >= 0.3


async def test_a_relay_started_again_after_a_crash_keeps_the_uplink_as_it_was(world: World) -> None:
    await world.steer(mode="blackhole", delay_ms=100)
    world.relay.close()  # as if killed: nothing is said on the way out
    await asyncio.sleep(0.1)  # its sockets close on the loop's next turns
    world.relay = UplinkRelay(world.relay.config)
    await world.relay.open()
    assert world.relay.settings() == {
        "mode": "blackhole",
        "dns_mode": "up",
        "loss": 0,
        "delay_ms": 100.0,
        "jitter_ms": 0.0,
    }
    assert await udp_exchange(world.front, world.dns, b"q", wait=0.5) is None, "still cut"


async def test_a_bad_request_is_refused_with_the_reason_and_changes_nothing(world: World) -> None:
    reply = await world.steer(mode="sideways")
    assert not reply["ok"] and "unknown uplink mode 'sideways'" in reply["error"] and reply["mode"] == "up"
    reply = await world.steer(loss=101)
    assert not reply["ok"] and "loss is a percentage" in reply["error"] and reply["loss"] == 0
    assert await udp_exchange(world.front, world.dns, b"q") == b"echo q"


async def test_a_link_relay_forwards_its_own_port_to_the_targets_one_and_cuts_it(tmp_path: Path) -> None:
    """A region's island link: its own port in, the hub's leaf port out; `reject` is the cut fibre."""
    front, target = host(1), host(2)
    hub_port = free_port(target)
    upstream = await Upstream.start(target, [hub_port])
    socket = str(tmp_path / "link.sock")
    own = free_port(front)
    relay = UplinkRelay(
        RelayConfig(
            listen_host=front,
            target_host=target,
            target_port=hub_port,
            udp_ports=[],
            tcp_ports=[own],
            control_socket=socket,
        )
    )
    await relay.open()
    server = await relay.serve_control(socket)
    try:
        assert await tcp_exchange(front, own, b"LEAF") == b"echo LEAF"
        await control(socket, {"mode": "reject"})
        assert isinstance(await tcp_exchange(front, own, b"LEAF"), ConnectionRefusedError)
        await control(socket, {"mode": "up"})
        assert await tcp_exchange(front, own, b"LEAF") == b"echo LEAF"
    finally:
        server.close()
        relay.close()
        upstream.close()
