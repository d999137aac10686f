"""The network as data: today's island has every link and place the fault catalogue names; a region adds
islands, each with its own network and trygghetspunkt, and a hub the islands reach without the uplink."""

from __future__ import annotations

from typing import get_args

import pytest

from island.contract import PLACES, Link
from island.topology import standard
from island.topology.model import HUB, ROUTER, STADSNAT


def test_todays_island_has_every_link_and_place_a_scenario_can_name() -> None:
    t = standard()
    assert {link.name for link in t.links} == set(get_args(Link))
    assert tuple(p.name for p in t.places) == PLACES[:3]
    # ...and a region of three islands the one more place its scenario names: island c's trygghetspunkt.
    assert {p.name for p in standard(islands=3).places} | set(PLACES[:3]) == set(PLACES)
    assert [i.name for i in t.islands] == ["island"] and t.hub is None
    assert t.link(t.uplink).host == "upstream"
    assert {(n.name, n.number) for n in t.networks} == {
        ("internet", 1),
        ("island", 3),
        ("trygghetspunkt-a", 4),
        ("trygghetspunkt-b", 5),
        ("home", 6),
    }
    assert t.service("resolver").host == t.service("site").host == "island"
    assert t.service("uplink").host == ROUTER


def test_the_router_stands_on_every_network_and_every_other_host_on_one() -> None:
    t = standard(3)
    assert set(t.host(ROUTER).networks) == {n.name for n in t.networks}
    assert all(len(h.networks) == 1 for h in t.leaves())
    assert [h.name for h in t.leaves()] == [link.host for link in t.links]


def test_a_region_has_islands_each_with_a_trygghetspunkt_and_a_hub_on_the_stadsnat() -> None:
    t = standard(3)
    assert [i.name for i in t.islands] == ["a", "b", "c"]
    assert [i.places for i in t.islands] == [
        ("trygghetspunkt-a",),
        ("trygghetspunkt-b",),
        ("trygghetspunkt-c",),
    ]
    assert t.place("trygghetspunkt-c").island == "c"
    assert t.service("resolver", "b").name == "resolver-b" and t.service("site", "b").host == "island-b"
    assert t.hub == HUB and t.host(HUB).networks == (STADSNAT,)
    # The islands reach the hub over their own links and the stadsnät link: cut apart from the uplink.
    assert t.link(STADSNAT).host == HUB and STADSNAT != t.uplink
    numbers = [n.number for n in t.networks]
    assert len(numbers) == len(set(numbers)), "every network has its own number"


def test_the_hub_is_one_node_or_a_cluster_of_three_and_only_in_a_region() -> None:
    assert standard(3).hub_nodes == ("n1",) and standard().hub_nodes == ()
    assert standard(3, hub_nodes=3).hub_nodes == ("n1", "n2", "n3")
    with pytest.raises(ValueError, match="one node or a cluster of three, not 2"):
        standard(3, hub_nodes=2)
    with pytest.raises(ValueError, match="a hub cluster needs a region"):
        standard(1, hub_nodes=3)


def test_the_first_island_of_a_region_keeps_todays_numbers() -> None:
    alone, region = standard(), standard(2)
    assert region.network(region.island("a").network).number == alone.network("island").number
    assert region.network("trygghetspunkt-a").number == alone.network("trygghetspunkt-a").number


def test_a_region_must_name_its_island_and_names_what_exists() -> None:
    with pytest.raises(ValueError, match="a region of 2 islands: name the island"):
        standard(2).island()
    with pytest.raises(KeyError, match="no island 'z'; there are: a, b"):
        standard(2).island("z")
    with pytest.raises(ValueError, match="islands must be between 1 and 20, not 0"):
        standard(0)
