"""The default backend: every service a plain process on its own loopback address. No root, no Docker."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from datetime import UTC, datetime
from typing import Any

from services.ports import describe, is_taken
from services.tls import https_port
from services.upstream.pebble import public_ca

from ..probes import Outcome, Place, Prober
from ..scenario.model import PLACES, DNSCut, Fault, Latency, PacketLoss, Probe, ServiceFault
from ..services import ServiceSpec, dns_ok, island_services
from ..state import StateDir
from ..topology import Topology
from . import _processes
from .base import Backend, BackendError, Say, UnsupportedFault
from .local_uplink import control

HEALTH_TIMEOUT = 20.0


class LocalBackend(Backend):
    name = "local"

    def __init__(self, state: StateDir, topology: Topology | None = None) -> None:
        super().__init__(state, topology or Topology.local())
        self._probers: dict[str, Prober] = {}

    def features(self) -> frozenset[str]:
        return frozenset(
            {
                "uplink-cut:blackhole",
                "uplink-cut:reject",
                "dns-cut",
                "packet-loss",
                "latency",
                "service:kill",
                "service:restart",
                "service:pause",
                *(f"place:{p}" for p in PLACES),
            }
        )

    @property
    def _control_socket(self) -> str:
        return str(self.state.path / "uplink.sock")

    def specs(self) -> list[ServiceSpec]:
        t = self.topology
        upstream, resolver, site = island_services(t, internet_address=t.uplink_address)
        uplink = ServiceSpec(
            name="uplink",
            title="uplink relay (the island's only way to the internet)",
            module="island.backends.local_uplink",
            config={
                "listen_host": t.uplink_address,
                "target_host": t.upstream_address,
                "udp_ports": [t.dns_port],
                "tcp_ports": sorted({t.dns_port, t.http_port, https_port(t.http_port)}),
                "control_socket": self._control_socket,
                "dns_port": t.dns_port,
            },
            args=(),
            ports=(
                (t.uplink_address, t.dns_port, "udp"),
                (t.uplink_address, t.dns_port, "tcp"),
                (t.uplink_address, t.http_port, "tcp"),
                (t.uplink_address, https_port(t.http_port), "tcp"),
            ),
            where=f"{t.uplink_address} -> {t.upstream_address}",
            health=lambda: dns_ok("www.kommun.example", t.uplink_address, t.dns_port),
        )
        return [upstream, uplink, resolver, site]

    # Life cycle ---------------------------------------------------------------------
    def _processes(self) -> dict[str, dict[str, Any]]:
        return (self.state.read() or {}).get("processes", {})

    def is_running(self) -> bool:
        return any(_processes.is_ours(p["pid"], p["marker"]) for p in self._processes().values())

    async def start(self, say: Say) -> None:
        specs = self.specs()
        self._check_ports(specs)
        processes: dict[str, dict[str, Any]] = {}
        self.state.write(
            {
                **(self.state.read() or {}),  # what a subclass recorded before (namespaces)
                "backend": self.name,
                "topology": self.topology.to_dict(),
                "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "processes": processes,
                "uplink": "up",
            }
        )
        for spec in specs:
            processes[spec.name] = self._spawn(spec)
            # Recorded at once, so `island down` can clean up even if start-up fails half-way.
            self.state.update(processes=processes)
        try:
            await asyncio.gather(*(self._wait_healthy(spec, processes[spec.name], say) for spec in specs))
        except BaseException:
            await self.stop(lambda _: None)
            raise

    def _check_ports(self, specs: list[ServiceSpec]) -> None:
        for spec in specs:
            for port in spec.ports:
                if is_taken(*port):
                    raise BackendError(
                        f"{describe(port)} is already in use, and the {spec.title} needs it. "
                        "Stop what uses it (`ss -lntup` shows it), or run `island down` if an island is still up."
                    )

    def _argv(self, spec: ServiceSpec, config_path: str | None) -> list[str]:
        return spec.argv(config_path)

    def _spawn(self, spec: ServiceSpec) -> dict[str, Any]:
        config_path = None
        if spec.config is not None:
            path = self.state.file_for(f"{spec.name}.json")
            path.write_text(json.dumps(spec.config, indent=2) + "\n", encoding="utf-8")
            config_path = str(path)
        log = self.state.file_for(f"{spec.name}.log")
        pid = _processes.spawn(self._argv(spec, config_path), log)
        return {"pid": pid, "marker": spec.module, "log": str(log), "where": spec.where}

    async def _health(self, spec: ServiceSpec) -> None:
        await asyncio.wait_for(spec.health(), 2.0)

    async def _wait_healthy(self, spec: ServiceSpec, process: dict[str, Any], say: Say) -> None:
        deadline = time.monotonic() + HEALTH_TIMEOUT
        last_error = ""
        while time.monotonic() < deadline:
            # Only an exit says it stopped: between fork and exec its command line is still ours (a race).
            if _processes.exit_status(process["pid"]) is not None:
                log = _processes.tail(self.state.path / f"{spec.name}.log")
                raise BackendError(f"the {spec.title} stopped while starting:\n{log}")
            try:
                await self._health(spec)
            except Exception as exc:  # not up yet: keep polling until the deadline
                last_error = str(exc) or type(exc).__name__
                await asyncio.sleep(0.1)
                continue
            say(f"  started {spec.name:<9} {spec.where}")
            return
        raise BackendError(
            f"the {spec.title} did not become healthy within {HEALTH_TIMEOUT:g} s ({last_error}); "
            f"its log is {process['log']}"
        )

    async def stop(self, say: Say) -> None:
        await self.close_probes()
        processes = self._processes()
        await asyncio.to_thread(_processes.terminate, {p["pid"]: p["marker"] for p in processes.values()})
        for name in processes:
            say(f"  stopped {name}")
        self.state.clear()

    async def status(self) -> dict[str, Any]:
        return {
            name: {"pid": p["pid"], "running": _processes.is_ours(p["pid"], p["marker"]), "where": p["where"]}
            for name, p in self._processes().items()
        }

    # The uplink ---------------------------------------------------------------------------
    async def _relay(self, settings: dict[str, Any]) -> dict[str, Any]:
        try:
            reply = await control(self._control_socket, settings)
        except OSError as exc:
            raise BackendError(
                f"the uplink relay does not answer ({exc}); is the island up? Try `island status`."
            ) from exc
        if not reply.get("ok"):
            raise BackendError(f"the uplink relay refused: {reply.get('error')}")
        return reply

    async def cut(self, mode: str) -> None:
        await self._relay({"mode": mode})
        self.state.update(uplink=mode)

    async def restore(self) -> None:
        await self._relay({"mode": "up"})
        self.state.update(uplink="up")

    async def uplink(self) -> str:
        try:
            return (await control(self._control_socket, {}))["mode"]
        except (OSError, ValueError, KeyError):
            return "unknown"

    # Faults ---------------------------------------------------------------------------------
    async def apply(self, fault: Fault) -> None:
        if isinstance(fault, DNSCut):
            await self._relay({"dns_mode": fault.mode})
        elif isinstance(fault, PacketLoss):
            await self._relay({"loss": fault.percent})
        elif isinstance(fault, Latency):
            await self._relay({"delay_ms": fault.delay_ms, "jitter_ms": fault.jitter_ms})
        elif isinstance(fault, ServiceFault):
            await self._service(fault)
        else:
            await super().apply(fault)

    async def heal(self, fault: Fault) -> None:
        if isinstance(fault, DNSCut):
            await self._relay({"dns_mode": "up"})
        elif isinstance(fault, PacketLoss):
            await self._relay({"loss": 0})
        elif isinstance(fault, Latency):
            await self._relay({"delay_ms": 0.0, "jitter_ms": 0.0})
        elif isinstance(fault, ServiceFault):
            await self._service_heal(fault)
        else:
            await super().heal(fault)

    def _service_spec(self, name: str) -> ServiceSpec:
        for spec in self.specs():
            if spec.name == name:
                return spec
        raise UnsupportedFault(f"the {self.name} backend has no service {name!r}")

    def _signal(self, name: str, sig: int) -> None:
        process = self._processes().get(name)
        if process and _processes.is_ours(process["pid"], process["marker"]):
            try:
                os.killpg(process["pid"], sig)
            except ProcessLookupError:
                pass

    async def _respawn(self, name: str) -> None:
        spec = self._service_spec(name)
        processes = self._processes()
        processes[name] = self._spawn(spec)
        self.state.update(processes=processes)
        await self._wait_healthy(spec, processes[name], lambda _: None)

    async def _service(self, fault: ServiceFault) -> None:
        process = self._processes().get(fault.service)
        if process is None:
            raise BackendError(f"the {fault.service} is not running on the {self.name} backend")
        if fault.action == "pause":
            self._signal(fault.service, signal.SIGSTOP)
        elif fault.action == "kill":
            self._signal(fault.service, signal.SIGKILL)
            await asyncio.to_thread(_processes.terminate, {process["pid"]: process["marker"]}, 1.0)
        else:  # restart: stop it as an operator would, start it again, wait until it answers
            await asyncio.to_thread(_processes.terminate, {process["pid"]: process["marker"]})
            await self._respawn(fault.service)

    async def _service_heal(self, fault: ServiceFault) -> None:
        process = self._processes().get(fault.service)
        if process is None:
            return
        if fault.action == "pause":
            self._signal(fault.service, signal.SIGCONT)
        elif fault.action == "kill" and not _processes.is_ours(process["pid"], process["marker"]):
            await self._respawn(fault.service)

    # Probes ---------------------------------------------------------------------------------
    def _place(self, name: str) -> Place:
        t = self.topology
        source = t.places.get(name, t.resident_address)
        return Place(
            t.resolver_address,
            t.dns_port,
            t.http_port,
            source_address=source,
            hosts=dict(t.places),
            https_port=https_port(t.http_port),
            ca_file=public_ca(self.state.path),
        )

    async def probe(self, probe: Probe) -> Outcome:
        prober = self._probers.get(probe.place)
        if prober is None:
            prober = self._probers[probe.place] = Prober(self._place(probe.place), self.topology.crisis_name)
        return await prober.run(probe)

    async def close_probes(self) -> None:
        probers, self._probers = self._probers, {}
        for prober in probers.values():
            await prober.aclose()
