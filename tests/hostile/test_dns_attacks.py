"""Each DNS attack of issue 13 against a real island, while a resident on the same Wi-Fi asks for the
crisis name and opens the crisis page: every one of the resident's lookups and fetches must be
answered right within 1 s. The attacks are bench/hostile/attacks_dns.py's, the same `make
bench-hostile` measures."""

from __future__ import annotations

import dataclasses
import multiprocessing
import threading
import time

import httpx
import pytest
from hostile_helpers import (
    HostileIsland,
    assert_resident_unharmed,
    measure_resident,
)

from bench.hostile.attacks_dns import DNS_ATTACKS, held_tcp_connections, long_names
from island.service_specs import RESOLVER_METRICS_PORT

pytestmark = [pytest.mark.e2e, pytest.mark.hostile]

SECONDS = 4.0
MALFORMED = 'island_resolver_bad_packets_total{kind="malformed"}'


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


def malformed_count(island: HostileIsland) -> float:
    url = f"http://{island.target.resolver_host}:{RESOLVER_METRICS_PORT}/metrics"
    lines = httpx.get(url, timeout=5).text.splitlines()
    return sum(float(line.split()[-1]) for line in lines if line.startswith(MALFORMED))


def test_bad_packets_are_counted_not_logged(island: HostileIsland) -> None:
    """Bad packets within the work limit all reach the prechecks: each counted, none a traceback in the log."""
    before = malformed_count(island)
    stop = multiprocessing.Event()
    threading.Timer(2.0, stop.set).start()
    other = dataclasses.replace(island.target, attacker=island.target.attacker_address(1))
    sent = long_names(other, stop, rate=150)  # within the 200/s work limit
    time.sleep(0.5)
    assert malformed_count(island) - before >= 0.9 * sent > 0
    log = (island.cli.state_dir / "resolver.log").read_text(errors="replace")
    assert "Traceback" not in log
