"""The island gate on the netns backend: the router refuses the phones' outside connections in island mode.

The router is the phones' gateway, as the island box is at a real trygghetspunkt. Its firewall
gets the box's chains (``inet odrift island_mode``, jumped to for each Wi-Fi's new connections
towards the uplink, and ``island_mode_nat`` for their port 80 to the outside, sent to the portal) and the gate (``services.gate``) runs beside the resolver, as on a box, filling
that chain while the resolver says island mode. Before the fault chains (priority -10): a black-hole
cut would otherwise drop the packet before the gate could refuse it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from services.gate.gate import CHAIN, COUNTER, NAT_CHAIN, TABLE, portal_jump

from ..deploy.render import METRICS_PORT
from ..service_specs import RESOLVER_METRICS_PORT, ServiceSpec, web_url
from ..topology.model import ROUTER
from . import _netns, netns_dhcp, netns_faults

if TYPE_CHECKING:
    from .netns import NetnsBackend

NAME = "gate"
PRIORITY = -10  # before the faults' chains (0): see the module's docstring


def firewall(backend: NetnsBackend) -> str:
    """The router's share of the box's firewall: the gate's chain and the jump to it from each Wi-Fi."""
    plan = backend.plan
    t = plan.topology
    wifis = ", ".join(f'"{plan.router_interface(t.place(p).host)}"' for p in netns_dhcp.wifi_places(backend))
    uplink = netns_faults.uplink_interface(backend)
    # What comes in over the uplink, to the router itself (the latency relay) or through it: a slow
    # uplink still brings answers, a cut one nothing.
    heard = "".join(
        f"add chain {TABLE} uplink_in_{hook} {{ type filter hook {hook} priority {PRIORITY}; }}\n"
        f"flush chain {TABLE} uplink_in_{hook}\n"
        f'add rule {TABLE} uplink_in_{hook} iifname "{uplink}" counter name {COUNTER}\n'
        for hook in ("input", "forward")
    )
    # The phones' port 80 to the outside: to the portal in island mode (the gate fills NAT_CHAIN).
    jump = portal_jump(f'iifname {{ {wifis} }} fib daddr oifname "{uplink}"')
    portal = (
        f"add chain {TABLE} {NAT_CHAIN}\n"
        f"add chain {TABLE} portal {{ type nat hook prerouting priority dstnat; }}\n"
        f"flush chain {TABLE} portal\n"
        f"add rule {TABLE} portal {jump}\n"
    )
    return (
        f"add counter {TABLE} {COUNTER}\n"
        f"add chain {TABLE} {CHAIN}\n"
        + portal
        + f"add chain {TABLE} wifi_out {{ type filter hook forward priority {PRIORITY}; }}\n"
        f"flush chain {TABLE} wifi_out\n"
        f'add rule {TABLE} wifi_out iifname {{ {wifis} }} oifname "{uplink}" ct state new jump {CHAIN}\n'
        + heard
    )


def status_file(backend: NetnsBackend) -> Path:
    return backend.state.file_for("gate.json")


def prepare(backend: NetnsBackend) -> None:
    """The chain in the router, and no status left from an earlier island (health waits for a fresh one)."""
    _netns.nft(backend.ns(ROUTER), firewall(backend))
    status_file(backend).unlink(missing_ok=True)


def gate_spec(backend: NetnsBackend) -> ServiceSpec:
    if backend.site is not None:  # the rendered resolver serves its metrics on the box itself
        metrics = f"http://127.0.0.1:{METRICS_PORT}/metrics"
    else:
        metrics = web_url(backend.addresses.resolver_address, RESOLVER_METRICS_PORT, "/metrics")
    status = status_file(backend)

    async def closed_or_open() -> None:
        json.loads(Path(status).read_text())  # written once the gate has set its chain

    return ServiceSpec(
        name=NAME,
        title="island gate (refuses the phones' outside connections in island mode)",
        module="services.gate",
        config=None,
        args=(
            "--resolver-metrics",
            metrics,
            "--nft",
            f"ip netns exec {backend.ns(ROUTER)} nft",
            "--conntrack",
            f"ip netns exec {backend.ns(ROUTER)} conntrack",
            "--portal",
            f"{backend.addresses.site_address}:{backend.addresses.http_port}",
            "--status-file",
            str(status),
        ),
        ports=(),
        where=f"beside the resolver; the chain {TABLE} {CHAIN} in {backend.ns(ROUTER)}",
        health=closed_or_open,
    )
