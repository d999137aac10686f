"""The hostile tier's shared helper: an island on the local backend, and a resident's view while an attack runs.

    island = hostile_island(tmp_path_factory, offset)        # a module fixture's body: yields a HostileIsland
    seen = measure_resident(island.target, attack, seconds)  # the resident's probes while attack runs
    assert_resident_unharmed(seen)                           # every probe answered right within 1 s
    with attack_running(island.target, attack) as sent: ...  # an attack beside anything else (the soak)

An attack is a function ``attack(target, stop) -> int`` (bench/hostile/resident.py), run in a
child process of its own, bounded in count and time by itself, sending only to the addresses
in ``target`` (the island's loopback addresses) from ``target.attacker``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from island_test_helpers import IslandCLI, island_cli, island_net
from tiers import loopback_network_reason, require_tier

from bench.hostile.resident import LIMIT, Attack, Measurement, Target, attack_running, measure_resident

__all__ = [
    "Attack",
    "HostileIsland",
    "Measurement",
    "Target",
    "assert_resident_unharmed",
    "attack_running",
    "hostile_island",
    "island_net",
    "measure_resident",
]

# The hostile tier's island (conftest.py: one for the session) and a spare for a module that needs
# an island of its own; tests/island uses offsets 0 to 9.
HOSTILE_NET = 10
SPARE_NET = 11


@dataclass
class HostileIsland:
    cli: IslandCLI
    target: Target


def target_of(status: dict, net: str) -> Target:
    site_url = status["site"]["url"].rstrip("/")
    site_host, _, port = site_url.removeprefix("http://").partition(":")
    return Target(
        crisis_name=status["crisis_name"],
        resolver_host=status["resolver"]["host"],
        resolver_port=int(status["resolver"]["port"]),
        site_host=site_host,
        site_port=int(port or 80),
        resident=f"{net}.4.10",
        attacker=f"{net}.4.66",
    )


def hostile_island(tmp_path_factory: pytest.TempPathFactory, offset: int) -> Iterator[HostileIsland]:
    """`island up` on the local backend at island_net(offset); `island down` afterwards."""
    net = island_net(offset)
    require_tier("hostile", loopback_network_reason(net))
    cli = island_cli(tmp_path_factory.mktemp("hostile-island"), net)
    cli.run("up", "--detach", check=True)
    try:
        yield HostileIsland(cli, target_of(cli.status(), net))
    finally:
        cli.run("down")


def assert_resident_unharmed(seen: Measurement) -> None:
    """Every crisis-name lookup and crisis-page fetch of the resident answered right within LIMIT (1 s)."""
    assert seen.name.seconds, "the resident asked nothing"
    assert seen.page.seconds, "the resident fetched nothing"
    failures = seen.failures()
    assert not failures, f"{len(failures)} resident probes failed or took over {LIMIT} s: {failures[:5]}"
