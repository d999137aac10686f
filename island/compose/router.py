"""The compose stack's uplink router: its nftables rules, and how a cut changes them.

The router container sits on all three networks. It gives the island "the internet" at
its island address (as the local backend's relay does), forwards the trygghetspunkt to
the island, carries the host's published ports to the site and the resolver, and
forwards nothing anywhere else, so the simulation stays closed; it also runs the island gate
(``gate_rules``). A cut fills the
``uplink`` chain: ``blackhole`` drops every packet to and from the upstream network
silently; ``reject`` answers the island at once (TCP reset, ICMP port unreachable).
"""

from __future__ import annotations

import re

from services.gate.gate import CHAIN as GATE_CHAIN
from services.gate.gate import COUNTER as GATE_COUNTER
from services.gate.gate import NAT_CHAIN as GATE_NAT_CHAIN
from services.gate.gate import TABLE as GATE_TABLE
from services.gate.gate import portal_jump

from ..topology.compose import Layout

TABLE = "odrift_uplink"
MODES = ("up", "blackhole", "reject")
_MODE_COMMENT = re.compile(r'comment "uplink-cut:(\w+)"')


def ruleset(layout: Layout) -> str:
    """The whole table, loaded once when the router starts (replacing any earlier one)."""
    lo = layout
    return f"""\
table ip {TABLE}
delete table ip {TABLE}
table ip {TABLE} {{
    chain prerouting {{
        type nat hook prerouting priority dstnat; policy accept;
        ip daddr {lo.router_island} meta l4proto {{ tcp, udp }} th dport 53 dnat to {lo.upstream}
        ip daddr {lo.router_island} tcp dport 80 dnat to {lo.upstream}
        ip daddr {lo.router_client} tcp dport {{ 80, 443 }} dnat to {lo.site}
        ip daddr {lo.router_client} meta l4proto {{ tcp, udp }} th dport 53 dnat to {lo.resolver}
    }}
    chain postrouting {{
        type nat hook postrouting priority srcnat; policy accept;
        ip daddr {lo.upstream_subnet} masquerade
        ip daddr {lo.island_subnet} ip saddr != {lo.island_subnet} masquerade
    }}
    chain forward {{
        type filter hook forward priority filter; policy drop;
        jump uplink
        ip daddr {{ {lo.upstream_subnet}, {lo.island_subnet}, {lo.client_subnet} }} accept
    }}
    chain uplink {{
    }}
}}
{gate_rules(layout)}"""


def gate_rules(layout: Layout) -> str:
    """The island gate's share (services/gate; docs/phones.md): what comes in from the internet is
    counted, and the phone's new connections to it (its port 80 before the DNAT to the internet) go
    through the chains the gate fills in island mode. Before the uplink chains: a cut's drop would
    otherwise come first."""
    lo = layout
    return f"""\
table {GATE_TABLE}
delete table {GATE_TABLE}
table {GATE_TABLE} {{
    counter {GATE_COUNTER} {{
    }}
    chain heard {{
        type filter hook forward priority -10; policy accept;
        ip saddr {lo.upstream_subnet} counter name {GATE_COUNTER}
        ip saddr {lo.client_subnet} ip daddr {lo.upstream_subnet} ct state new jump {GATE_CHAIN}
    }}
    chain {GATE_CHAIN} {{
    }}
    chain portal {{
        type nat hook prerouting priority -110; policy accept;
        {portal_jump(f"ip saddr {lo.client_subnet} ip daddr {lo.router_island}")}
    }}
    chain {GATE_NAT_CHAIN} {{
    }}
}}
"""


def gate_argv(layout: Layout) -> list[str]:
    """The gate in the router container (after its rules are loaded), following the island resolver."""
    from ..service_specs import RESOLVER_METRICS_PORT  # the DNS stack: only where it runs

    return [
        "-m",
        "services.gate",
        "--resolver-metrics",
        f"http://{layout.resolver}:{RESOLVER_METRICS_PORT}/metrics",
        "--portal",
        f"{layout.site}:80",
    ]


def uplink_script(mode: str, layout: Layout) -> str:
    """One nft transaction that puts the uplink in ``mode``: the chain never holds half a cut."""
    if mode not in MODES:
        raise ValueError(f"unknown uplink mode {mode!r}; use one of {', '.join(MODES)}")
    net = layout.upstream_subnet
    lines = [f"flush chain ip {TABLE} uplink"]
    rule = f"add rule ip {TABLE} uplink"
    tag = f'comment "uplink-cut:{mode}"'
    if mode == "blackhole":
        lines += [f"{rule} ip daddr {net} drop {tag}", f"{rule} ip saddr {net} drop {tag}"]
    elif mode == "reject":
        lines += [
            f"{rule} ip daddr {net} meta l4proto tcp reject with tcp reset {tag}",
            f"{rule} ip daddr {net} reject with icmp type port-unreachable {tag}",
            f"{rule} ip saddr {net} drop {tag}",
        ]
    return "\n".join(lines) + "\n"


def mode_from_listing(listing: str) -> str:
    """The uplink's mode from ``nft list chain ip odrift_uplink uplink``."""
    found = _MODE_COMMENT.search(listing)
    return found.group(1) if found else "up"
