"""A phone joins a trygghetspunkt's Wi-Fi on the netns backend: a real dnsmasq (the configuration
`island deploy render` writes) hands out the address, and busybox udhcpc takes it. Needs root."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from island_test_helpers import IslandCLI, island_net
from tiers import require_tier

from island.backends import _netns
from island.backends.netns import NetnsBackend
from island.contract import Operation, PhoneCheck
from island.state import StateDir

pytestmark = pytest.mark.e2e

CAPTIVE_API = "https://krisinfo.kommun.example/api/captive"


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    require_tier("netns", _netns.unavailable_reason())
    cli = IslandCLI(tmp_path_factory.mktemp("dhcp") / "state", island_net(7))
    up = cli.run("up", "--backend", "netns", "--detach")
    assert up.returncode == 0, up.stdout + up.stderr
    assert "started dhcp-trygghetspunkt-a" in up.stdout, up.stdout
    yield cli.state_dir
    down = cli.run("down")
    assert down.returncode == 0, down.stderr


def joins(system: str) -> Operation:
    return Operation(name=f"{system}-joins", phone=PhoneCheck(os=system, join=True), timeout=8)


# First, while the uplink is up: after a restore the island takes a recheck to see the internet again.
async def test_a_phone_that_joins_with_the_uplink_up_is_online(state_dir: Path) -> None:
    backend = NetnsBackend(StateDir(state_dir))
    try:
        outcome = await backend.probe(joins("android"))
    finally:
        await backend.close_probes()
    assert outcome.status == "ok" and outcome.detail.startswith("online (HTTP 204) · joined in "), outcome
    assert outcome.lease is not None and outcome.lease.captive_api == CAPTIVE_API


async def test_a_phone_that_joins_during_a_cut_gets_the_island_and_its_sign_in_sheet(state_dir: Path) -> None:
    backend = NetnsBackend(StateDir(state_dir))
    # dnsmasq is told what a phone on trygghetspunkt-a's Wi-Fi (10.4.0.0/24, behind the router's r-tpa)
    # must get: an address of the pool, the router as its gateway, the island resolver as its only DNS
    # server, and the captive-portal API (option 114).
    told = (state_dir / "dhcp-trygghetspunkt-a.conf").read_text(encoding="utf-8").splitlines()
    for line in (
        "interface=r-tpa",
        "dhcp-authoritative",
        "dhcp-range=10.4.0.100,10.4.0.199,255.255.255.0,10m",
        "dhcp-option=option:router,10.4.0.1",
        "dhcp-option=option:dns-server,10.3.0.10",
        f'dhcp-option=114,"{CAPTIVE_API}"',
    ):
        assert line in told, f"{line} not in the DHCP server's configuration:\n" + "\n".join(told)
    await backend.cut("blackhole")
    try:
        # The island notices the cut within a heartbeat and a forward budget; a phone already on
        # the Wi-Fi says "portal" from then on.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            seen = await backend.probe(Operation(name="android", phone=PhoneCheck(os="android"), timeout=4))
            if seen.detail.startswith("portal"):
                break
        assert seen.detail.startswith("portal"), seen
        pool = range(int(ipaddress.ip_address("10.4.0.100")), int(ipaddress.ip_address("10.4.0.199")) + 1)
        for system in ("android", "apple"):
            outcome = await backend.probe(joins(system))
            assert outcome.status == "ok", outcome
            # The sheet opened on the crisis page (the prober follows it and checks the page).
            assert outcome.detail.startswith("portal http://krisinfo.kommun.example/ · joined in "), outcome
            lease = outcome.lease
            assert lease is not None
            assert int(ipaddress.ip_address(lease.address)) in pool
            assert lease.dns == backend.addresses.resolver_address == "10.3.0.10"
            assert lease.router == "10.4.0.1"
            assert lease.captive_api == CAPTIVE_API
            assert 0 < lease.join_ms < 8000
    finally:
        await backend.restore()
        await backend.close_probes()
    # Each phone left: its namespace is gone and its lease released (the pool is not used up).
    assert not [ns for ns in _netns.existing(backend.prefix) if "-ph" in ns]
    assert (state_dir / "dhcp-trygghetspunkt-a.leases").read_text(encoding="utf-8").strip() == ""
