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
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from services.upstream.pebble import PUBLIC_CA_FILE, public_ca

from ..certificates import hand_carried, https_off_reason
from ..contract import Operation, Outcome
from ..deploy.rehearsal import Rehearsal, rendered_services
from ..probes import Place, Prober
from ..service_specs import ServiceSpec, island_services, with_certificate_clients
from ..state import StateDir
from ..topology import Addresses, standard
from ..topology.model import ROUTER
from ..topology.netns import NetnsPlan, RealAddresses
from . import _netns, netns_dhcp, netns_faults, netns_gate
from .base import Backend, BackendError, Say, topology_places
from .faults import FaultTable, UplinkCutHandler
from .processes import ProcessSupervisor, ServiceFaultHandler, named
from .region import (
    NetnsRegion,
    certificate_clients,
    prepare,
    region_specs,
)
from .relay import RelayClient, relay_spec

PREFIX = "odr"
HAND_CARRIED = "hand-carried"  # in the state folder: a certificate by hand, and the municipality's credential


def tag_for(state: StateDir) -> str:
    return hashlib.sha1(str(state.path.resolve()).encode()).hexdigest()[:6]


class NetnsBackend(Backend):
    name = "netns"
    faults = FaultTable([UplinkCutHandler(), *netns_faults.HANDLERS, ServiceFaultHandler()])

    @staticmethod
    def default_addresses() -> Addresses:
        return NetnsPlan(PREFIX).addresses()

    def __init__(
        self, state: StateDir, addresses: Addresses | None = None, islands: int = 1, hub_nodes: int = 1
    ) -> None:
        self.plan = NetnsPlan(f"{PREFIX}{tag_for(state)}-", standard(islands=islands, hub_nodes=hub_nodes))
        # A region (islands > 1): the first island's addresses are the island's (its page, its resolver).
        self.region: NetnsRegion | None = NetnsRegion(islands, self.plan, hub_nodes) if islands > 1 else None
        if self.region is not None:
            addresses = addresses or self.region.addresses(self.region.names()[0])
        super().__init__(state, addresses or self.default_addresses())
        self.prefix = self.plan.prefix
        self._loops: dict[str, _netns.NamespaceLoop] = {}
        self._probers: dict[str, Prober] = {}
        self.processes = ProcessSupervisor(state, launch=self._launch, health=self._health)
        self.relay = RelayClient(state)

    @property
    def browser_url(self) -> str | None:
        return None  # the island's addresses live in namespaces; the host has no route to them

    def ns(self, host: str) -> str:
        """The namespace of a host of the topology (``router``, ``upstream``, ``island``, a place)."""
        return self.plan.namespace(host)

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
        t = self.addresses
        if self.site is not None:  # the resolver and the site from the rendered files, as the units run them
            upstream, _, _ = island_services(t, data_dir=self._credential_data(), public_ca=self.site.https)
            return [
                upstream,
                relay_spec(t, self.state),
                *rendered_services(self.site),
                *netns_dhcp.dhcp_specs(self),
                netns_gate.gate_spec(self),
            ]
        upstream, resolver, site = island_services(t, data_dir=self.data_dir)
        if self.region is not None:  # one internet for all; each place's own services in its namespace
            return [
                with_certificate_clients(upstream, certificate_clients(self.region, self.data_dir)),
                relay_spec(t, self.state),
                *region_specs(self.region, self.state, self.data_dir),
            ]
        return [
            upstream,
            relay_spec(t, self.state),
            resolver,
            site,
            *netns_dhcp.dhcp_specs(self),
            netns_gate.gate_spec(self),
        ]

    # A site file: its own addresses inside the namespaces, its rendered files run as they are -----------
    def use_site(self, rehearsal: Rehearsal) -> None:
        self.site = rehearsal
        place = self.plan.topology.island().places[0]  # the resident's place: the trygghetspunkt's Wi-Fi
        real = RealAddresses(
            island_address=rehearsal.island_address,
            place=place,
            network=rehearsal.network,
            phone_address=rehearsal.phone_address,
            router_address=rehearsal.router_address(),
            upstreams=rehearsal.upstreams,
            wifi_interface=rehearsal.lan_interface,
        )
        plan = replace(self.plan, real=real)
        conflicts = plan.real_conflicts()
        if conflicts:
            raise BackendError(
                f"{rehearsal.file}: the netns backend cannot rehearse these addresses as they are: "
                f"{'; '.join(conflicts)}. Rehearse a copy of the site file with other addresses "
                "(trygghetspunkter[0].wifi, resolver.upstreams), or use --backend local"
            )
        self.plan = plan
        self.addresses = self.plan.addresses(crisis_name=rehearsal.crisis_name)
        if rehearsal.https:  # the box trusts the public CA, as its ca-certificates does for real
            rehearsal.trust(self.state.path / PUBLIC_CA_FILE)

    def site_mapping(self) -> list[str]:
        r = self.site
        if r is None:
            return []
        place = self.plan.topology.island().places[0]
        others = [p for p in self.addresses.places if p != place]
        return [
            f"  Site file:       {r.file}: the island at {r.place_name} ({r.place}), rendered into {r.root}",
            f"  Resolver:        {r.resolver_config} as rendered, on the box's address {r.island_address}",
            f"  Crisis site:     {r.site_config} and {r.content.name} as rendered, on {r.island_address}:80",
            f"  {place}: a phone at {r.phone_address} on the Wi-Fi {r.network} "
            f"(the simulator's router at {r.router_address()} answers for the box there)",
            f"  Upstreams:       {', '.join(r.upstreams)} (the stadsnät's resolvers): the simulated internet "
            "answers for them, translated in the router",
            f"  DHCP:            {r.dhcp_config} (rendered; for a DHCP server in {self.ns(ROUTER)} on "
            f"{r.lan_interface}, the router's leg on the Wi-Fi)",
            f"  Not mapped:      {', '.join(others)} keep the simulator's networks (the island refuses them, as a "
            f"box refuses outsiders); {', '.join(r.others) or 'no other trygghetspunkt'} would be islands of "
            f"their own; editors ({', '.join(r.editors) or 'none'}) need accounts: island site add-editor NAME",
            f"  HTTPS:           {self._https_mapping(r)}",
        ]

    def _credential_data(self) -> Path:
        """Whose credential the simulated municipality's certificate service knows (``tls/`` under this).

        With ``certificate: central`` the island's, where the rendered site.json names it; by hand the
        municipality's own, outside the box, to hand a certificate over with (``island site install-cert``).
        """
        assert self.site is not None
        if self.site.certificate == "central":
            return Path(self.site.paths.data_dir)
        return self.state.path / HAND_CARRIED

    async def _hand_over(self, say: Say) -> None:
        """Certificate by hand: the municipality's certificate for the crisis name, ready to install."""
        assert self.site is not None
        _, _, site = island_services(self.addresses, data_dir=self._credential_data())
        settings = (site.config or {})["tls"]  # the simulator's own site's: the service, the credential
        if "issuer_url" not in settings:
            say(f"  no certificate to hand over: {https_off_reason()}")
            return
        name, folder = self.site.crisis_name, self.state.path / HAND_CARRIED
        chain, key = await self._loop(self.ns(ROUTER)).run(lambda: hand_carried(settings, name, folder))
        say(f"  by hand: the municipality's certificate for {name} (simulated public CA); install it:")
        say(f"                                island site install-cert {chain} {key}")

    def _https_mapping(self, r: Rehearsal) -> str:
        if r.certificate == "central":
            return (
                f"the certificate for {r.crisis_name} from the site file's certificate service, answered by the "
                f"simulated municipality with Pebble as the public CA; the island's credential {r.credential}, "
                f"its key and chain {r.certificate_file}, the public CA as the box's trust store"
            )
        if r.certificate == "manual":
            return (
                f"by hand: install a certificate for {r.crisis_name} from the simulated public CA with "
                f"`island site install-cert CERT KEY` (into {r.certificate_file})"
            )
        return f"off ({self.https_off()})"

    def https_off(self) -> str | None:
        if self.site is not None and not self.site.https:
            return "the site file names no certificate (certificate: source: none); the rendered site serves HTTP"
        return super().https_off()

    @property
    def places(self) -> tuple[str, ...]:
        """Only the places the topology has: a region has one trygghetspunkt per island, no home."""
        return topology_places(self.plan.topology)

    def _namespace_of(self, service: str) -> str:
        # The Wi-Fi's DHCP servers stand in the router, where the access points would be.
        if service.startswith(netns_dhcp.SERVICE_PREFIX):
            return self.ns(ROUTER)
        if self.region is not None:
            return self.region.namespace_of(service)
        if service == netns_gate.NAME:  # beside the resolver, as on a box
            return self.plan.service_namespace("resolver")
        return self.plan.service_namespace(service)

    def service_spec(self, name: str) -> ServiceSpec:
        return named(self.specs(), name)

    # Life cycle ---------------------------------------------------------------------------
    # Fresh namespaces: nothing else can hold their ports, so no port check before starting.
    def _launch(self, spec: ServiceSpec, config_path: str | None) -> list[str]:
        return ["ip", "netns", "exec", self._namespace_of(spec.name), *spec.argv(config_path)]

    def is_running(self) -> bool:
        return self.processes.is_running()

    def _loop(self, namespace: str) -> _netns.NamespaceLoop:
        if namespace not in self._loops:
            self._loops[namespace] = _netns.NamespaceLoop(namespace)
        return self._loops[namespace]

    async def _health(self, spec: ServiceSpec) -> None:
        # From the router, which reaches every host; a site file's resolver and site from their own host,
        # as on the box (they answer only the Wi-Fi and the box itself).
        rendered = self.site is not None and spec.name in ("resolver", "site")
        namespace = self.plan.service_namespace(spec.name) if rendered else self.ns(ROUTER)
        await asyncio.wait_for(self._loop(namespace).run(spec.health), 2.0)

    async def start(self, say: Say) -> None:
        reason = _netns.unavailable_reason()
        if reason:
            raise BackendError(reason)
        self.clean_leftovers(self.state)
        if self.region is not None:
            say(f"  a region: {self.region.describe()}")
            prepare(self.region, self.data_dir)
        self.state.write(
            {
                "backend": self.name,
                "topology": self.addresses.to_dict(),
                **({"region": self.region.recorded()} if self.region else {}),
                "data_dir": str(self.data_dir),
                "namespaces": [],
                "processes": {},
                "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "uplink": "up",
                **({"site": self.site.to_dict()} if self.site is not None else {}),
            }
        )
        try:
            await asyncio.to_thread(self._build)
            shorts = ",".join(name.removeprefix(self.prefix) for name in self.plan.namespaces())
            say(f"  made namespaces {self.prefix}{{{shorts}}} with routes via the router")
            await self.processes.start(self.specs(), say)
            if self.site is not None and self.site.certificate == "manual":
                await self._hand_over(say)
        except BaseException:
            await self.stop(lambda _: None)
            raise
        phone = self.plan.place_namespace(next(iter(self.addresses.places)))
        say(f"  a phone at a trygghetspunkt:  ip netns exec {phone} dig {self.addresses.crisis_name}")
        say(
            f"                                ip netns exec {phone} curl http://{self.addresses.crisis_name}/"
        )

    def _build(self) -> None:
        # Recorded before they exist, so a crash half-way still leaves a list to clean.
        self.state.update(namespaces=self.plan.namespaces())
        for command in self.plan.commands():
            _netns.run(*command.argv, input=command.input)
        if self.region is None:
            netns_gate.prepare(self)

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
            service["where"] += f" in {self._namespace_of(name)}"
        return services

    async def restart_service(self, name: str, say: Say) -> None:
        await self.processes.restart(self.service_spec(name))

    def watchdog(self) -> dict[str, Any] | None:
        return self.processes.watchdog()

    # The uplink: an nftables chain in the router (other faults: netns_faults.py) ----------------
    async def cut(self, mode: str) -> None:
        await asyncio.to_thread(
            netns_faults.chain, self, "uplink_cut", netns_faults.cut_rules(self, mode, "")
        )
        self.state.update(uplink=mode)

    async def restore(self) -> None:
        await asyncio.to_thread(netns_faults.unchain, self, "uplink_cut")
        self.state.update(uplink="up")

    async def uplink(self) -> str:
        mode: str = (self.state.read() or {}).get("uplink", "unknown")
        return mode

    # Probes: from a phone in the place's own namespace -----------------------------------------
    async def probe(self, probe: Operation) -> Outcome:
        if probe.phone is not None and probe.phone.join:
            return await netns_dhcp.join_and_check(self, probe)
        loop = self._loop(self.plan.place_namespace(probe.place))
        prober = self._probers.get(probe.place)
        if prober is None:
            t = self.addresses
            if self.region is not None:  # the place's own island's resolver
                t = self.region.addresses(self.plan.topology.place(probe.place).island)
            place = Place(
                t.resolver_address,
                t.dns_port,
                t.http_port,
                hosts=dict(t.places),
                ca_file=public_ca(self.state.path),
                region_sites=self.region.sites() if self.region is not None else {},
            )
            prober = self._probers[probe.place] = await loop.run(lambda: _make_prober(place, t.crisis_name))
        return await loop.run(lambda: prober.run(probe))

    async def close_probes(self) -> None:
        probers, self._probers = self._probers, {}
        for place, prober in probers.items():
            loop = self._loops.get(self.plan.place_namespace(place))
            if loop is not None:
                await loop.run(prober.aclose)


async def _make_prober(place: Place, crisis_name: str) -> Prober:
    return Prober(place, crisis_name)


__all__ = ["NetnsBackend"]
