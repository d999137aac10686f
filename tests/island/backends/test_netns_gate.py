"""The island gate on the netns backend: during a cut the phones' connections to the outside are refused
at once (a TCP reset from the router, the phones' gateway), plain HTTP is sent to the island's portal,
and both are let through again after. Needs root."""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import httpx
import pytest
from island_test_helpers import IslandCLI, island_net
from tiers import require_tier

from island.backends import _netns
from island.backends.netns import NetnsBackend
from island.backends.netns_gate import status_file
from island.contract import DNSCut
from island.state import StateDir
from island.topology.model import ROUTER
from services.gate.gate import CHAIN, COUNTER, NAT_CHAIN, TABLE
from services.resolver.metrics import island_mode as said_island_mode
from services.tls import https_port

pytestmark = pytest.mark.e2e

T = TypeVar("T")


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NetnsBackend]:
    require_tier("netns", _netns.unavailable_reason())
    cli = IslandCLI(tmp_path_factory.mktemp("gate") / "state", island_net(8))
    up = cli.run("up", "--backend", "netns", "--detach")
    assert up.returncode == 0, up.stdout + up.stderr
    assert "started gate" in up.stdout, up.stdout
    yield NetnsBackend(StateDir(cli.state_dir))
    down = cli.run("down")
    assert down.returncode == 0, down.stderr


def from_phone(backend: NetnsBackend, fn: Callable[[], Awaitable[T]]) -> T:
    """Run ``fn`` on a thread in the resident's phone's namespace at trygghetspunkt-a."""
    loop = _netns.NamespaceLoop(backend.plan.place_namespace("trygghetspunkt-a"))
    try:
        return asyncio.run(loop.run(fn))
    finally:
        loop.close()


def connect(host: str, port: int, server_name: str | None = None) -> Callable[[], Awaitable[str]]:
    """A phone's connect (and TLS handshake for ``server_name``): what became of it, and how fast."""

    async def attempt() -> str:
        started = time.monotonic()
        context = None
        if server_name is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port, ssl=context, server_hostname=server_name), 5
            )
            writer.close()
            outcome = "connected"
        except (ConnectionRefusedError, ConnectionResetError) as refused:
            outcome = type(refused).__name__
        except TimeoutError:
            outcome = "timeout"
        return f"{outcome} in {time.monotonic() - started:.2f} s"

    return attempt


def fetch(url: str, host: str, timeout: float = 2) -> Callable[[], Awaitable[str]]:
    """A phone's plain HTTP GET with ``host`` as its Host: the status and where it redirects."""

    async def get() -> str:
        async with httpx.AsyncClient(timeout=timeout, trust_env=False) as client:
            response = await client.get(url, headers={"Host": host})
            return f"{response.status_code} {response.headers.get('location')}"

    return get


def gate(backend: NetnsBackend) -> bool | None:
    try:
        closed: bool = json.loads(backend.state.file_for("gate.json").read_text())["closed"]
        return closed
    except (OSError, ValueError):
        return None


def wait_gate(backend: NetnsBackend, closed: bool, within: float) -> float:
    started = time.monotonic()
    while gate(backend) is not closed:
        assert time.monotonic() - started < within, f"the gate did not {'close' if closed else 'open'}"
        time.sleep(0.05)
    return time.monotonic() - started


def test_during_a_cut_outside_connections_are_reset_at_once_and_after_it_go_through(
    backend: NetnsBackend,
) -> None:
    outside = backend.addresses.upstream_address
    assert wait_gate(backend, False, 10) >= 0
    assert from_phone(backend, connect(outside, 80)).startswith("connected")
    asyncio.run(backend.cut("blackhole"))
    try:
        noticed = wait_gate(backend, True, 10)
        # A connect to an outside address (what a cached name of an app or a browser tab still points at).
        refused = from_phone(backend, connect(outside, 443))
        assert refused.startswith("ConnectionRefusedError in 0.0"), refused
        # Plain HTTP there (a check whose name the phone still has the outside address of) reaches the
        # island's portal instead: its redirect to the crisis page, the sign-in sheet, not "no internet".
        check = from_phone(backend, fetch(f"http://{outside}/generate_204", "connectivitycheck.gstatic.com"))
        assert check == f"302 http://{backend.addresses.crisis_name}/", check
        # The island's own HTTPS port, reached by a check name: a foreign server name is reset there.
        island_tls = https_port(backend.addresses.http_port)
        reset = from_phone(backend, connect(backend.addresses.site_address, island_tls, "www.google.com"))
        assert reset.startswith("ConnectionResetError in 0."), reset
        assert float(reset.split()[2]) < 1.0
        # The crisis name is served as ever.
        own = from_phone(
            backend, connect(backend.addresses.site_address, island_tls, backend.addresses.crisis_name)
        )
        assert own.startswith("connected"), own
    finally:
        asyncio.run(backend.restore())
    wait_gate(backend, False, 15)
    assert from_phone(backend, connect(outside, 80)).startswith("connected")
    print(f"the gate closed {noticed:.2f} s after the cut")


def test_a_check_whose_syn_went_out_before_the_gate_closed_still_reaches_the_portal(
    backend: NetnsBackend,
) -> None:
    """Its SYN passed the router before the cut (a cut further out, as on a real uplink): the router
    tracks the connection, so NAT would not apply to the resent SYNs; the gate has conntrack forget it."""
    outside = backend.addresses.upstream_address
    upstream = backend.ns("upstream")
    wait_gate(backend, False, 10)
    _netns.nft(
        upstream,
        "add table inet lost\nadd chain inet lost syn { type filter hook input priority 0; }\n"
        "add rule inet lost syn tcp dport 80 drop\n",
    )
    try:
        with ThreadPoolExecutor(1) as pool:
            check = pool.submit(
                from_phone,
                backend,
                fetch(f"http://{outside}/generate_204", "connectivitycheck.gstatic.com", 9),
            )
            time.sleep(0.3)  # its first SYN is out, and lost beyond the router
            asyncio.run(backend.cut("blackhole"))
            try:
                wait_gate(backend, True, 10)
                assert check.result() == f"302 http://{backend.addresses.crisis_name}/"
            finally:
                asyncio.run(backend.restore())
    finally:
        _netns.nft(upstream, "delete table inet lost\n")
    wait_gate(backend, False, 15)


def test_the_firewall_loaded_again_in_island_mode_is_filled_again_and_checks_still_reach_the_portal(
    backend: NetnsBackend,
) -> None:
    """Loading the firewall again (on a box `systemctl reload nftables`, `nft -f odrift.nft`) empties the
    gate's chains and zeroes its counter; the gate fills them again within a round, without opening."""
    outside = backend.addresses.upstream_address
    router = backend.ns(ROUTER)
    wait_gate(backend, False, 10)
    asyncio.run(backend.cut("blackhole"))
    try:
        wait_gate(backend, True, 10)
        closed_since = json.loads(status_file(backend).read_text())["since"]
        # What loading odrift.nft does to the gate's share (the rest of the router's table holds the cut).
        _netns.nft(router, f"flush chain {TABLE} {CHAIN}\nflush chain {TABLE} {NAT_CHAIN}\n")
        _netns.nft(router, f"reset counter {TABLE} {COUNTER}\n")
        started = time.monotonic()
        while (
            "reject"
            not in _netns.run(
                "ip", "netns", "exec", router, "nft", "list", "chain", *TABLE.split(), CHAIN
            ).stdout
        ):
            assert time.monotonic() - started < 3, "the emptied chain was not filled again"
            time.sleep(0.05)
        refilled = time.monotonic() - started
        check = from_phone(backend, fetch(f"http://{outside}/generate_204", "connectivitycheck.gstatic.com"))
        assert check == f"302 http://{backend.addresses.crisis_name}/", check
        refused = from_phone(backend, connect(outside, 443))
        assert refused.startswith("ConnectionRefusedError in 0.0"), refused
        assert json.loads(status_file(backend).read_text())["since"] == closed_since, "it opened in between"
    finally:
        asyncio.run(backend.restore())
    wait_gate(backend, False, 15)
    print(f"the emptied chain was filled again {refilled:.2f} s after")


def island_mode(backend: NetnsBackend) -> bool:
    """What the resolver says, asked from the phone (the test's own namespace has no route there)."""
    url = f"http://{backend.addresses.resolver_address}:9153/metrics"

    async def metrics() -> str:
        async with httpx.AsyncClient(timeout=2, trust_env=False) as client:
            return (await client.get(url)).text

    return bool(said_island_mode(from_phone(backend, metrics)))


def test_island_mode_with_the_uplink_still_carrying_traffic_keeps_the_gate_open(
    backend: NetnsBackend,
) -> None:
    """Only DNS cut: the resolver calls the uplink down, but a phone's web traffic still comes back
    over it, so the gate stays open; once nothing has come in for the quiet time, it closes."""
    outside = backend.addresses.upstream_address
    wait_gate(backend, False, 10)
    dns_only = DNSCut(type="dns-cut", mode="blackhole")
    asyncio.run(backend.apply(dns_only))
    try:
        started, reached = time.monotonic(), []
        while not island_mode(backend) or time.monotonic() - started < 6:
            assert time.monotonic() - started < 15, "the resolver never called the uplink down"
            reached.append(from_phone(backend, connect(outside, 80)))  # a phone still using the internet
            time.sleep(0.2)
        assert gate(backend) is False and all(r.startswith("connected") for r in reached), reached
        # The phone stops; nothing comes in over the uplink any more: the gate closes.
        assert wait_gate(backend, True, 5) >= 1.0
        assert from_phone(backend, connect(outside, 443)).startswith("ConnectionRefusedError")
        check = from_phone(backend, fetch(f"http://{outside}/", "www.bank.example"))
        assert check == f"302 http://{backend.addresses.crisis_name}/", check
    finally:
        asyncio.run(backend.heal(dns_only))
    wait_gate(backend, False, 15)
