"""The default backend: every service a plain process on its own loopback address. No root, no Docker.

Made of two pieces it shares with the netns backend: the process supervisor (processes.py)
and the uplink relay (relay.py), through which every packet to the internet passes here.
"""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from services.tls import https_port
from services.upstream.pebble import public_ca

from ..contract import Operation, Outcome
from ..deploy.rehearsal import Rehearsal
from ..probes import Place, Prober
from ..service_specs import ServiceSpec, island_services, with_certificate_clients
from ..state import StateDir
from ..topology import Addresses, standard
from ..topology.local import local_addresses
from . import local_faults
from .base import Backend, Say, topology_places
from .faults import FaultTable, UplinkCutHandler
from .processes import ProcessSupervisor, ServiceFaultHandler, check_ports, named
from .region import (
    LocalRegion,
    certificate_clients,
    local_region,
    prepare,
    region_specs,
)
from .relay import RelayClient, relay_spec


class LocalBackend(Backend):
    name = "local"
    faults = FaultTable([UplinkCutHandler(), *local_faults.HANDLERS, ServiceFaultHandler()])

    @staticmethod
    def default_addresses() -> Addresses:
        return local_addresses()

    def __init__(
        self,
        state: StateDir,
        addresses: Addresses | None = None,
        islands: int = 1,
        net: str | None = None,
        hub_nodes: int = 1,
    ) -> None:
        # A region (islands > 1): the first island's addresses are the island's (its page, its resolver).
        self.region: LocalRegion | None = None
        if islands > 1:
            self.region = local_region(islands, os.geteuid() == 0, net, hub_nodes)
            addresses = addresses or self.region.addresses(self.region.names()[0])
        super().__init__(state, addresses or self.default_addresses())
        self.processes = ProcessSupervisor(state)
        self.relay = RelayClient(state)
        self._probers: dict[str, Prober] = {}

    def specs(self) -> list[ServiceSpec]:
        t = self.addresses
        # The island reaches the internet through the relay (its internet_address).
        content = self.site.content if self.site is not None else None
        # A site file's island keeps its data where the box would (the rendered data folder): its
        # database, its key and certificate, as `island site add-editor` and `island status` find them.
        data_dir = Path(self.site.paths.data_dir) if self.site is not None else self.data_dir
        upstream, resolver, site = island_services(t, data_dir=data_dir, content=content)
        if self.region is not None:  # one internet and one uplink for all; each place's own services
            return [
                with_certificate_clients(upstream, certificate_clients(self.region, self.data_dir)),
                relay_spec(t, self.state),
                *region_specs(self.region, self.state, self.data_dir),
            ]
        return [upstream, relay_spec(t, self.state, gate=True), resolver, site]

    @property
    def places(self) -> tuple[str, ...]:
        """Only the places the topology has: a region has one trygghetspunkt per island, no home."""
        return topology_places(self.region.topology if self.region is not None else standard())

    # A site file: its crisis name and first page; loopback addresses stand in for its network ----------
    def use_site(self, rehearsal: Rehearsal) -> None:
        self.site = rehearsal
        self.addresses = replace(self.addresses, crisis_name=rehearsal.crisis_name)

    def site_mapping(self) -> list[str]:
        r, t = self.site, self.addresses
        if r is None:
            return []
        return [
            f"  Site file:       {r.file}: the island at {r.place_name} ({r.place}), rendered into {r.root}",
            f"  From it:         the crisis name {r.crisis_name}, the first page ({r.content})",
            f"  Stand-ins:       loopback addresses, not the site file's: the box {r.island_address} is "
            f"{t.resolver_address} (resolver) and {t.site_address} (site), the Wi-Fi {r.network} is "
            f"{t.resident_address}, the upstreams {', '.join(r.upstreams)} are the simulated internet "
            f"{t.upstream_address}",
            "  Not mapped:      the rendered resolver and site configuration and DHCP (only the netns backend "
            f"runs those: --backend netns); editors ({', '.join(r.editors) or 'none'}) need accounts: "
            "island site add-editor NAME",
            f"  HTTPS:           the simulator's own site settings get the certificate for {r.crisis_name} "
            "from the same certificate service and public CA, not the rendered tls settings (netns runs those)",
        ]

    def service_spec(self, name: str) -> ServiceSpec:
        return named(self.specs(), name)

    # Life cycle ---------------------------------------------------------------------
    def is_running(self) -> bool:
        return self.processes.is_running()

    async def start(self, say: Say) -> None:
        specs = self.specs()
        check_ports(specs)
        if self.region is not None:
            say(f"  a region: {self.region.describe()}")
            prepare(self.region, self.data_dir)
        self.state.write(
            {
                "backend": self.name,
                "topology": self.addresses.to_dict(),
                **({"region": {**self.region.recorded(), "net": self.region.net}} if self.region else {}),
                "data_dir": str(self.data_dir),
                "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "uplink": "up",
                **({"site": self.site.to_dict()} if self.site is not None else {}),
            }
        )
        try:
            await self.processes.start(specs, say)
        except BaseException:
            await self.stop(lambda _: None)  # nothing half-started stays recorded
            raise

    async def stop(self, say: Say) -> None:
        await self.close_probes()
        await self.processes.stop(say)
        self.state.clear()

    async def status(self) -> dict[str, Any]:
        return self.processes.status()

    async def restart_service(self, name: str, say: Say) -> None:
        await self.processes.restart(self.service_spec(name))

    def watchdog(self) -> dict[str, Any] | None:
        return self.processes.watchdog()

    # The uplink ---------------------------------------------------------------------------
    async def cut(self, mode: str) -> None:
        await self.relay.configure(mode=mode)
        self.state.update(uplink=mode)

    async def restore(self) -> None:
        await self.relay.configure(mode="up")
        self.state.update(uplink="up")

    async def uplink(self) -> str:
        return await self.relay.mode()

    # Probes ---------------------------------------------------------------------------------
    def _place(self, name: str) -> Place:
        t = self.addresses
        if self.region is not None and name in {p.name for p in self.region.topology.places}:
            t = self.region.addresses(self.region.topology.place(name).island)
        source = t.places.get(name, t.resident_address)
        return Place(
            t.resolver_address,
            t.dns_port,
            t.http_port,
            source_address=source,
            hosts=dict(t.places),
            https_port=https_port(t.http_port),
            ca_file=public_ca(self.state.path),
            region_sites=self.region.sites() if self.region is not None else {},
        )

    async def probe(self, probe: Operation) -> Outcome:
        prober = self._probers.get(probe.place)
        if prober is None:
            prober = self._probers[probe.place] = Prober(self._place(probe.place), self.addresses.crisis_name)
        return await prober.run(probe)

    async def close_probes(self) -> None:
        probers, self._probers = self._probers, {}
        for prober in probers.values():
            await prober.aclose()
