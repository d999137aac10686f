"""The uplink relay as the backends use it: its service description and a client for its control socket.

The relay itself (``local_uplink.py``) is a process; on the local backend every packet to the
internet passes through it, on the netns backend it idles in the router until latency sends the
internet's traffic through it. Both backends start it with :func:`relay_spec` and steer it with
one :class:`RelayClient`.
"""

from __future__ import annotations

from typing import Any

from services.tls import https_port

from ..service_specs import RESOLVER_METRICS_PORT, ServiceSpec, dns_ok, web_url
from ..state import StateDir
from ..topology import Addresses
from .base import BackendError
from .local_uplink import control


def control_socket(state: StateDir) -> str:
    return str(state.path / "uplink.sock")


def gate_config(addresses: Addresses) -> dict[str, Any]:
    """The island gate in the relay, for the phones at the trygghetspunkter (a home has its own router)."""
    t = addresses
    return {
        "resolver_metrics": web_url(t.resolver_address, RESOLVER_METRICS_PORT, "/metrics"),
        "phones": [address for place, address in t.places.items() if place.startswith("trygghetspunkt")],
        "web_port": t.http_port,
        "portal_host": t.site_address,
        "portal_port": t.http_port,
    }


def relay_spec(addresses: Addresses, state: StateDir, gate: bool = False) -> ServiceSpec:
    """The relay listening on its relay address and forwarding to the simulated internet; with
    ``gate``, the phones' only way out, and the island gate too (local_uplink.py)."""
    t = addresses
    relay = t.relay_address
    if relay is None:
        raise BackendError("these addresses have no uplink relay (a router makes the cut)")
    return ServiceSpec(
        name="uplink",
        title="uplink relay (the island's only way to the internet)",
        module="island.backends.local_uplink",
        config={
            "listen_host": relay,
            "target_host": t.upstream_address,
            "udp_ports": [t.dns_port],
            "tcp_ports": sorted({t.dns_port, t.http_port, https_port(t.http_port)}),
            "control_socket": control_socket(state),
            "dns_port": t.dns_port,
            **({"gate": gate_config(t)} if gate else {}),
        },
        args=(),
        ports=(
            (relay, t.dns_port, "udp"),
            (relay, t.dns_port, "tcp"),
            (relay, t.http_port, "tcp"),
            (relay, https_port(t.http_port), "tcp"),
        ),
        where=f"{relay} -> {t.upstream_address}",
        health=lambda: dns_ok("www.kommun.example", relay, t.dns_port),
    )


class RelayClient:
    def __init__(self, state: StateDir) -> None:
        self.state = state

    async def configure(self, **settings: Any) -> dict[str, Any]:
        """Change the relay's settings (``mode``, ``dns_mode``, ``loss``, ``delay_ms``, ``jitter_ms``)."""
        try:
            reply = await control(control_socket(self.state), settings)
        except OSError as exc:
            raise BackendError(
                f"the uplink relay does not answer ({exc}); is the island up? Try `island status`."
            ) from exc
        if not reply.get("ok"):
            raise BackendError(f"the uplink relay refused: {reply.get('error')}")
        return reply

    async def mode(self) -> str:
        try:
            mode: str = (await control(control_socket(self.state), {}))["mode"]
            return mode
        except (OSError, ValueError, KeyError):
            return "unknown"
