"""Each DNS attack of issue 13 against a real island, while a resident on the same Wi-Fi asks for the
crisis name and opens the crisis page: every one of the resident's lookups and fetches must be
answered right within 1 s. The attacks are bench/hostile/attacks_dns.py's, the same `make
bench-hostile` measures."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from hostile_helpers import (
    DNS_ATTACKS_NET,
    HostileIsland,
    assert_resident_unharmed,
    hostile_island,
    measure_resident,
)

from bench.hostile.attacks_dns import DNS_ATTACKS, held_tcp_connections
from island.services import RESOLVER_METRICS_PORT

pytestmark = [pytest.mark.e2e, pytest.mark.hostile]

SECONDS = 4.0
MALFORMED = 'island_resolver_bad_packets_total{kind="malformed"}'


@pytest.fixture(scope="module")
def island(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostileIsland]:
    yield from hostile_island(tmp_path_factory, DNS_ATTACKS_NET)


@pytest.mark.parametrize("attack", [a for _, a in DNS_ATTACKS], ids=[a.__name__ for _, a in DNS_ATTACKS])
def test_a_resident_gets_the_crisis_name_and_page_within_a_second_during(
    island: HostileIsland, attack
) -> None:
    tcp = attack is held_tcp_connections  # that one is about TCP slots: the resident asks over TCP too
    seen = measure_resident(island.target, attack, SECONDS, tcp=tcp)
    assert seen.attack_sent > 0, "the attack sent nothing"
    assert_resident_unharmed(seen)
    if tcp:
        assert seen.name_tcp.seconds, "the resident's TCP lookups got nowhere"


def test_bad_packets_are_counted_not_logged(island: HostileIsland) -> None:
    """Runs after the attacks: thousands of bad packets, each counted, none with a traceback in the log."""
    metrics = httpx.get(
        f"http://{island.target.resolver_host}:{RESOLVER_METRICS_PORT}/metrics", timeout=5
    ).text
    counted = [line for line in metrics.splitlines() if line.startswith(MALFORMED)]
    assert counted and float(counted[0].split()[-1]) > 1000, counted
    log = (island.cli.state_dir / "resolver.log").read_text(errors="replace")
    assert "Traceback" not in log
