"""The netns backend: the island network as real hosts in Linux network namespaces (root only).

    upstream ns   10.1.0.2    the simulated internet (DNS 53, web 80)
        | r-up (the uplink: cut, lossy, thin or slow here)
    router ns     10.1.0.1 / 10.3.0.1 / 10.4.0.1 / 10.5.0.1 / 10.6.0.1, forwarding, nftables
        | r-isl          | r-tpa                | r-tpb                | r-home
    island ns      trygghetspunkt-a ns     trygghetspunkt-b ns     home ns (a stadsnät subscriber)
    resolver 10.3.0.10:53, site 10.3.0.11:80;  phones 10.4.0.10, 10.5.0.10, 10.6.0.10

Every namespace name starts with ``odr<tag>-``, the tag derived from the state folder, so two
islands (two test runs) never meet, and ``island down`` finds what a crashed run left by prefix.
Faults are nftables chains in the router (one base chain per fault, so healing one is deleting
its chain), ``tc`` token buckets, links set down, and a user-space delay relay (this kernel has
no netem) that the router DNATs the internet's traffic to while latency is on.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from datetime import UTC, datetime
from typing import Any

from services.upstream.pebble import public_ca

from ..contract import PLACES, Operation, Outcome
from ..probes import Place, Prober
from ..service_specs import ServiceSpec, island_services
from ..state import StateDir
from ..topology import Topology
from . import _netns, netns_faults
from .base import Backend, BackendError, Say
from .faults import FaultTable, UplinkCutHandler
from .processes import ProcessSupervisor, ServiceFaultHandler, named
from .relay import RelayClient, relay_spec

PREFIX = "odr"
# Which namespace each process runs in, and each place's namespace.
_SERVICE_NS = {"upstream": "up", "uplink": "rt", "resolver": "isl", "site": "isl"}
_PLACE_NS = {"trygghetspunkt-a": "tpa", "trygghetspunkt-b": "tpb", "home": "home"}
_SUBNETS = {"up": 1, "isl": 3, "tpa": 4, "tpb": 5, "home": 6}
_LEAF_ADDRESSES = {
    "up": ["10.1.0.2"],
    "isl": ["10.3.0.10", "10.3.0.11"],
    "tpa": ["10.4.0.10"],
    "tpb": ["10.5.0.10"],
    "home": ["10.6.0.10"],
}
_ROUTER_IF = {"up": "r-up", "isl": "r-isl", "tpa": "r-tpa", "tpb": "r-tpb", "home": "r-home"}


def tag_for(state: StateDir) -> str:
    return hashlib.sha1(str(state.path.resolve()).encode()).hexdigest()[:6]


def netns_topology() -> Topology:
    return Topology(
        crisis_name=os.environ.get("ISLAND_CRISIS_NAME", "krisinfo.kommun.example"),
        upstream_address="10.1.0.2",
        uplink_address="10.1.0.1",
        resolver_address="10.3.0.10",
        site_address="10.3.0.11",
        resident_address="10.4.0.10",
        dns_port=53,
        http_port=80,
        places={"trygghetspunkt-a": "10.4.0.10", "trygghetspunkt-b": "10.5.0.10", "home": "10.6.0.10"},
    )


class NetnsBackend(Backend):
    name = "netns"
    places = PLACES
    faults = FaultTable([UplinkCutHandler(), *netns_faults.HANDLERS, ServiceFaultHandler()])

    @staticmethod
    def default_topology() -> Topology:
        return netns_topology()

    def __init__(self, state: StateDir, topology: Topology | None = None) -> None:
        super().__init__(state, topology or self.default_topology())
        self.prefix = f"{PREFIX}{tag_for(state)}-"
        self._loops: dict[str, _netns.NamespaceLoop] = {}
        self._probers: dict[str, Prober] = {}
        self.processes = ProcessSupervisor(state, launch=self._launch, health=self._health)
        self.relay = RelayClient(state)

    @property
    def browser_url(self) -> str | None:
        return None  # the island's addresses live in namespaces; the host has no route to them

    def ns(self, short: str) -> str:
        return self.prefix + short

    @classmethod
    def clean_leftovers(cls, state: StateDir) -> list[str]:
        prefix = f"{PREFIX}{tag_for(state)}-"
        found = _netns.existing(prefix)
        for namespace in found:
            _netns.remove(namespace)
        return found

    def specs(self) -> list[ServiceSpec]:
        # The island reaches the internet by its real address, through the router: no relay in the way.
        # The relay still runs in the router, idle until latency DNATs the uplink's traffic to it.
        t = self.topology
        upstream, resolver, site = island_services(
            t, internet_address=t.upstream_address, data_dir=self.data_dir
        )
        return [upstream, relay_spec(t, self.state), resolver, site]

    def service_spec(self, name: str) -> ServiceSpec:
        return named(self.specs(), name)

    # Life cycle ---------------------------------------------------------------------------
    # Fresh namespaces: nothing else can hold their ports, so no port check before starting.
    def _launch(self, spec: ServiceSpec, config_path: str | None) -> list[str]:
        return ["ip", "netns", "exec", self.ns(_SERVICE_NS[spec.name]), *spec.argv(config_path)]

    def is_running(self) -> bool:
        return self.processes.is_running()

    def _loop(self, short: str) -> _netns.NamespaceLoop:
        if short not in self._loops:
            self._loops[short] = _netns.NamespaceLoop(self.ns(short))
        return self._loops[short]

    async def _health(self, spec: ServiceSpec) -> None:
        # From the router, which reaches every host.
        await asyncio.wait_for(self._loop("rt").run(spec.health), 2.0)

    async def start(self, say: Say) -> None:
        reason = _netns.unavailable_reason()
        if reason:
            raise BackendError(reason)
        self.clean_leftovers(self.state)
        self.state.write(
            {
                "backend": self.name,
                "topology": self.topology.to_dict(),
                "data_dir": str(self.data_dir),
                "namespaces": [],
                "processes": {},
                "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "uplink": "up",
            }
        )
        try:
            await asyncio.to_thread(self._build)
            say(f"  made namespaces {self.prefix}{{up,rt,isl,tpa,tpb,home}} with routes via the router")
            await self.processes.start(self.specs(), say)
        except BaseException:
            await self.stop(lambda _: None)
            raise
        say(f"  a phone at a trygghetspunkt:  ip netns exec {self.ns('tpa')} dig {self.topology.crisis_name}")
        say(
            f"                                ip netns exec {self.ns('tpa')} curl http://{self.topology.crisis_name}/"
        )

    def _build(self) -> None:
        router = self.ns("rt")
        names = [self.ns(s) for s in ("rt", *_SUBNETS)]
        for namespace in names:
            # Recorded before it exists, so a crash half-way still leaves a list to clean.
            self.state.update(namespaces=names)
            _netns.run("ip", "netns", "add", namespace)
            _netns.run("ip", "-n", namespace, "link", "set", "lo", "up")
        for short, subnet in _SUBNETS.items():
            leaf, router_if = self.ns(short), _ROUTER_IF[short]
            _netns.run(
                "ip",
                "-n",
                router,
                "link",
                "add",
                router_if,
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "netns",
                leaf,
            )
            _netns.run("ip", "-n", router, "addr", "add", f"10.{subnet}.0.1/24", "dev", router_if)
            _netns.run("ip", "-n", router, "link", "set", router_if, "up")
            for address in _LEAF_ADDRESSES[short]:
                _netns.run("ip", "-n", leaf, "addr", "add", f"{address}/24", "dev", "eth0")
            _netns.run("ip", "-n", leaf, "link", "set", "eth0", "up")
            _netns.run("ip", "-n", leaf, "route", "add", "default", "via", f"10.{subnet}.0.1")
        # /proc/sys/net belongs to the namespace of whoever opens it (no need for procps' sysctl).
        _netns.run("ip", "netns", "exec", router, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward")
        _netns.nft(router, "add table inet odrift\nadd table ip odrift_nat\n")
        for short in _PLACE_NS.values():
            _netns.write_resolv_conf(self.ns(short), self.topology.resolver_address)

    async def stop(self, say: Say) -> None:
        await self.close_probes()
        await self.processes.stop(say)  # processes first, then the state folder and the namespaces
        self.state.clear()
        for loop in self._loops.values():
            loop.close()
        self._loops.clear()
        removed = await asyncio.to_thread(self.clean_leftovers, self.state)
        if removed:
            say(f"  removed namespaces {', '.join(removed)}")

    async def status(self) -> dict[str, Any]:
        services = self.processes.status()
        for name, service in services.items():
            service["where"] += f" in {self.ns(_SERVICE_NS[name])}"
        return services

    async def restart_service(self, name: str, say: Say) -> None:
        await self.processes.restart(self.service_spec(name))

    def watchdog(self) -> dict[str, Any] | None:
        return self.processes.watchdog()

    # The uplink: an nftables chain in the router (other faults: netns_faults.py) ----------------
    async def cut(self, mode: str) -> None:
        await asyncio.to_thread(netns_faults.chain, self, "uplink_cut", netns_faults.cut_rules(mode, ""))
        self.state.update(uplink=mode)

    async def restore(self) -> None:
        await asyncio.to_thread(netns_faults.unchain, self, "uplink_cut")
        self.state.update(uplink="up")

    async def uplink(self) -> str:
        mode: str = (self.state.read() or {}).get("uplink", "unknown")
        return mode

    # Probes: from a phone in the place's own namespace -----------------------------------------
    async def probe(self, probe: Operation) -> Outcome:
        loop = self._loop(_PLACE_NS[probe.place])
        prober = self._probers.get(probe.place)
        if prober is None:
            t = self.topology
            place = Place(
                t.resolver_address,
                t.dns_port,
                t.http_port,
                hosts=dict(t.places),
                ca_file=public_ca(self.state.path),
            )
            prober = self._probers[probe.place] = await loop.run(lambda: _make_prober(place, t.crisis_name))
        return await loop.run(lambda: prober.run(probe))

    async def close_probes(self) -> None:
        probers, self._probers = self._probers, {}
        for place, prober in probers.items():
            loop = self._loops.get(_PLACE_NS[place])
            if loop is not None:
                await loop.run(prober.aclose)


async def _make_prober(place: Place, crisis_name: str) -> Prober:
    return Prober(place, crisis_name)


__all__ = ["NetnsBackend"]
