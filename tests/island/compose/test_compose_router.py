"""The router container's nftables: the island gets its internet and nothing else; a cut is one transaction."""

from __future__ import annotations

import pytest

from island.compose.router import mode_from_listing, ruleset, uplink_script
from island.topology.compose import Layout


def test_router_rules_give_the_island_its_internet_and_nothing_else() -> None:
    rules = ruleset(Layout("10.9"))
    assert "ip daddr 10.9.2.1 meta l4proto { tcp, udp } th dport 53 dnat to 10.9.1.1" in rules
    assert "ip daddr 10.9.4.1 tcp dport { 80, 443 } dnat to 10.9.3.2" in rules  # the site: HTTP and HTTPS
    assert "type filter hook forward priority filter; policy drop;" in rules
    assert "ip daddr { 10.9.1.0/24, 10.9.2.0/23, 10.9.4.0/24 } accept" in rules
    # The island gate's share: the phone's port 80 to the internet can be sent to the portal, its new
    # connections there refused, and what comes in from the internet is counted.
    assert (
        "ip saddr 10.9.4.0/24 ip daddr 10.9.2.1 tcp dport 80 ct mark set 0x6f64 jump island_mode_nat" in rules
    )
    assert "ip saddr 10.9.4.0/24 ip daddr 10.9.1.0/24 ct state new jump island_mode" in rules
    assert "ip saddr 10.9.1.0/24 counter name uplink_in" in rules


@pytest.mark.parametrize("mode", ["blackhole", "reject"])
def test_a_cut_is_one_transaction_that_says_its_mode(mode: str) -> None:
    script = uplink_script(mode, Layout("10.9"))
    lines = script.splitlines()
    assert lines[0] == "flush chain ip odrift_uplink uplink"
    assert all("10.9.1.0/24" in line and f'comment "uplink-cut:{mode}"' in line for line in lines[1:])
    assert any(line.endswith(f'drop comment "uplink-cut:{mode}"') for line in lines)
    assert ("reject" in script) == (mode == "reject")
    listing = (
        "table ip odrift_uplink {\n chain uplink {\n"
        + "".join(lines[1:]).replace("add rule ip odrift_uplink uplink", "")
        + "}\n}"
    )
    assert mode_from_listing(listing) == mode


def test_restore_empties_the_chain_and_a_bad_mode_is_refused() -> None:
    assert uplink_script("up", Layout("10.9")) == "flush chain ip odrift_uplink uplink\n"
    assert mode_from_listing("table ip odrift_uplink {\n\tchain uplink {\n\t}\n}") == "up"
    with pytest.raises(ValueError, match="unknown uplink mode 'sideways'"):
        uplink_script("sideways", Layout("10.9"))
