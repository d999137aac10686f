"""The local builder: one loopback address per host, the relay where the island reaches the internet."""

from __future__ import annotations

import json

import pytest

from island.topology import Addresses, standard
from island.topology.compose import Layout
from island.topology.local import hub_address, hub_node_addresses, local_addresses


def test_todays_island_on_loopback() -> None:
    a = local_addresses(net="127.42", privileged=False)
    assert (a.upstream_address, a.relay_address, a.resolver_address, a.site_address) == (
        "127.42.1.1",
        "127.42.2.1",
        "127.42.3.1",
        "127.42.3.2",
    )
    assert a.internet_address == a.relay_address, (
        "on loopback the island reaches the internet through the relay"
    )
    assert a.places == {
        "trygghetspunkt-a": "127.42.4.10",
        "trygghetspunkt-b": "127.42.5.10",
        "home": "127.42.6.10",
    }
    assert a.resident_address == "127.42.4.10"
    assert (a.dns_port, a.http_port, a.site_url, a.crisis_url) == (
        5353,
        8080,
        "http://127.42.3.2:8080/",
        "http://krisinfo.kommun.example:8080/",
    )


def test_root_gets_the_standard_ports_and_the_environment_moves_the_network(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ISLAND_NET", "127.77")
    monkeypatch.setenv("ISLAND_CRISIS_NAME", "kris.example")
    a = local_addresses(privileged=True)
    assert (a.resolver_address, a.dns_port, a.http_port, a.crisis_url) == (
        "127.77.3.1",
        53,
        80,
        "http://kris.example/",
    )


def test_each_island_of_a_region_has_its_own_addresses_and_shares_the_uplink() -> None:
    region = standard(3)
    a, b = (local_addresses(region, name, net="127.42", privileged=False) for name in ("a", "b"))
    assert (a.resolver_address, b.resolver_address, b.site_address) == (
        "127.42.3.1",
        "127.42.13.1",
        "127.42.13.2",
    )
    assert b.places == {"trygghetspunkt-b": "127.42.14.10"}
    assert a.relay_address == b.relay_address == "127.42.2.1"
    assert hub_address(region, "127.42") == "127.42.9.1"
    with pytest.raises(ValueError, match="one island has no hub"):
        hub_address(standard(), "127.42")
    cluster = standard(3, hub_nodes=3)
    assert hub_node_addresses(cluster, "127.42") == ["127.42.9.1", "127.42.9.2", "127.42.9.3"]
    assert hub_address(cluster, "127.42") == "127.42.9.1"  # the hub's site and replicator too


def test_addresses_survive_the_state_file() -> None:
    a = local_addresses(net="127.42", privileged=False)
    assert Addresses.from_dict(json.loads(json.dumps(a.to_dict()))) == a
    inside = Layout("10.9").inside("krisinfo.kommun.example")
    assert Addresses.from_dict(json.loads(json.dumps(inside.to_dict()))) == inside
