"""The island gate on the local backend, where the uplink relay is the phones' only way out: during a
cut a phone's HTTPS to a foreign host is reset at once, its plain HTTP (a check whose name it still has
the outside address of) reaches the island's portal, also when it was sent into the cut before the
gate closed; after the restore both reach the internet again."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Iterator

import httpx
import pytest
from island_test_helpers import IslandCLI, island_cli, island_net

from island.backends.local import LocalBackend
from island.backends.local_uplink import HELD_LIMIT, control
from island.backends.relay import control_socket
from island.state import StateDir
from island.topology.local import local_addresses
from services.tls import https_port

pytestmark = pytest.mark.e2e

NET = island_net(16)


@pytest.fixture(scope="module")
def island(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IslandCLI]:
    cli = island_cli(tmp_path_factory.mktemp("local-gate"), NET)
    up = cli.run("up", "--detach")
    assert up.returncode == 0, up.stdout + up.stderr
    yield cli
    assert cli.run("down").returncode == 0


async def check(phone: str, relay: str, port: int) -> str:
    """Android's check by the outside address its name had (the relay, on this backend), from the phone."""
    transport = httpx.AsyncHTTPTransport(local_address=phone)
    async with httpx.AsyncClient(transport=transport, timeout=8, trust_env=False) as client:
        response = await client.get(
            f"http://{relay}:{port}/generate_204", headers={"Host": "connectivitycheck.gstatic.com"}
        )
        return f"{response.status_code} {response.headers.get('location')}"


async def tls_to_foreign_host(phone: str, relay: str, port: int) -> str:
    """A phone's HTTPS to www.bank.example: what became of it, and how fast."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    started = time.monotonic()
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(
                relay, port, local_addr=(phone, 0), ssl=context, server_hostname="www.bank.example"
            ),
            5,
        )
        writer.close()
        outcome = "connected"
    except (ConnectionResetError, ConnectionRefusedError, ssl.SSLError) as failed:
        outcome = type(failed).__name__
    except TimeoutError:
        outcome = "timeout"
    return f"{outcome} in {time.monotonic() - started:.2f} s"


async def send_into_the_cut(phone: str, relay: str, port: int, size: int) -> str:
    """A phone sends ``size`` bytes to the outside during the cut: what becomes of its connection."""
    reader, writer = await asyncio.open_connection(relay, port, local_addr=(phone, 0))
    try:
        writer.write(b"x" * size)
        await writer.drain()
        return f"read {await asyncio.wait_for(reader.read(1), 1)!r}"
    except (ConnectionResetError, BrokenPipeError) as failed:
        return type(failed).__name__
    except TimeoutError:
        return "held"
    finally:
        writer.close()


async def gate(backend: LocalBackend, closed: bool, within: float) -> float:
    started = time.monotonic()
    while (await control(control_socket(backend.state), {})).get("gate") != ("closed" if closed else "open"):
        assert time.monotonic() - started < within, f"the gate did not {'close' if closed else 'open'}"
        await asyncio.sleep(0.05)
    return time.monotonic() - started


def test_during_a_cut_https_out_is_reset_at_once_and_checks_reach_the_portal(island: IslandCLI) -> None:
    backend = LocalBackend(StateDir(island.state_dir), local_addresses(net=NET))
    t = backend.addresses
    phone, relay = t.places["trygghetspunkt-a"], t.internet_address

    async def rehearse() -> tuple[str, str, str, str, float]:
        await gate(backend, False, 10)
        assert await check(phone, relay, t.http_port) == "204 None"
        await backend.cut("blackhole")
        try:
            sent_into_the_cut = asyncio.ensure_future(check(phone, relay, t.http_port))
            noticed = await gate(backend, True, 10)
            reset = await tls_to_foreign_host(phone, relay, https_port(t.http_port))
            portal = await check(phone, relay, t.http_port)
            held = await sent_into_the_cut
        finally:
            await backend.restore()
        await gate(backend, False, 10)
        return reset, portal, held, await check(phone, relay, t.http_port), noticed

    reset, portal, held, after, noticed = asyncio.run(rehearse())
    assert reset.startswith("ConnectionResetError in 0."), reset
    assert float(reset.split()[2]) < 1.0, reset
    crisis = f"302 http://{t.crisis_name}/"
    assert portal == crisis and held == crisis, (portal, held)
    assert after == "204 None"
    print(f"the gate closed {noticed:.2f} s after the cut")


def test_a_phone_that_sends_more_into_the_cut_than_a_check_is_reset_not_held(island: IslandCLI) -> None:
    """The relay holds what a phone sends into the cut until the gate closes; more than a check is cut
    short with a reset, so no client can grow the relay's memory."""
    backend = LocalBackend(StateDir(island.state_dir), local_addresses(net=NET))
    t = backend.addresses
    phone, relay = t.places["trygghetspunkt-a"], t.internet_address

    async def rehearse() -> tuple[str, str]:
        await gate(backend, False, 10)
        await backend.cut("blackhole")
        try:
            # At once, before the gate closes (the uplink must first be quiet for a while).
            small = await send_into_the_cut(phone, relay, t.http_port, 300)
            large = await send_into_the_cut(phone, relay, t.http_port, HELD_LIMIT * 8)
            assert (await control(control_socket(backend.state), {}))["gate"] == "open"
        finally:
            await backend.restore()
        await gate(backend, False, 10)
        return small, large

    small, large = asyncio.run(rehearse())
    assert small == "held" and large == "ConnectionResetError", (small, large)
