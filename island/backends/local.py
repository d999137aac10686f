"""The default backend: every service a plain process on its own loopback address. No root, no Docker."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime, timezone
from typing import Any

from services.ports import describe, is_taken

from ..probes import Outcome, Place, Prober
from ..scenario.model import Probe
from ..services import ServiceSpec, dns_ok, island_services
from ..state import StateDir
from ..topology import Topology
from . import _processes
from .base import Backend, BackendError, Say
from .local_uplink import control

HEALTH_TIMEOUT = 20.0


class LocalBackend(Backend):
    name = "local"

    def __init__(self, state: StateDir, topology: Topology | None = None) -> None:
        super().__init__(state, topology or Topology.local())
        self._prober: Prober | None = None

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
                "tcp_ports": sorted({t.dns_port, t.http_port}),
                "control_socket": self._control_socket,
            },
            args=(),
            ports=(
                (t.uplink_address, t.dns_port, "udp"),
                (t.uplink_address, t.dns_port, "tcp"),
                (t.uplink_address, t.http_port, "tcp"),
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
        for spec in specs:
            for port in spec.ports:
                if is_taken(*port):
                    raise BackendError(
                        f"{describe(port)} is already in use, and the {spec.title} needs it. "
                        "Stop what uses it (`ss -lntup` shows it), or run `island down` if an island is still up."
                    )
        processes: dict[str, dict[str, Any]] = {}
        self.state.write(
            {
                "backend": self.name,
                "topology": self.topology.to_dict(),
                "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "processes": processes,
                "uplink": "up",
            }
        )
        for spec in specs:
            config_path = None
            if spec.config is not None:
                path = self.state.file_for(f"{spec.name}.json")
                path.write_text(json.dumps(spec.config, indent=2) + "\n", encoding="utf-8")
                config_path = str(path)
            log = self.state.file_for(f"{spec.name}.log")
            pid = _processes.spawn(spec.argv(config_path), log)
            processes[spec.name] = {"pid": pid, "marker": spec.module, "log": str(log), "where": spec.where}
            # Recorded at once, so `island down` can clean up even if start-up fails half-way.
            self.state.update(processes=processes)
        try:
            await asyncio.gather(*(self._wait_healthy(spec, processes[spec.name], say) for spec in specs))
        except BaseException:
            await self.stop(lambda _: None)
            raise

    async def _wait_healthy(self, spec: ServiceSpec, process: dict[str, Any], say: Say) -> None:
        deadline = time.monotonic() + HEALTH_TIMEOUT
        last_error = ""
        while time.monotonic() < deadline:
            if not _processes.is_ours(process["pid"], process["marker"]):
                log = _processes.tail(self.state.path / f"{spec.name}.log")
                raise BackendError(f"the {spec.title} stopped while starting:\n{log}")
            try:
                await asyncio.wait_for(spec.health(), 2.0)
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
        await asyncio.to_thread(
            _processes.terminate, {p["pid"]: p["marker"] for p in processes.values()}
        )
        for name in processes:
            say(f"  stopped {name}")
        self.state.clear()

    async def status(self) -> dict[str, Any]:
        return {
            name: {"pid": p["pid"], "running": _processes.is_ours(p["pid"], p["marker"]), "where": p["where"]}
            for name, p in self._processes().items()
        }

    # The uplink ---------------------------------------------------------------------------
    async def _set_mode(self, mode: str) -> None:
        try:
            reply = await control(self._control_socket, {"mode": mode})
        except OSError as exc:
            raise BackendError(f"the uplink relay does not answer ({exc}); is the island up? Try `island status`.")
        if not reply.get("ok"):
            raise BackendError(f"the uplink relay refused: {reply.get('error')}")
        self.state.update(uplink=mode)

    async def cut(self, mode: str) -> None:
        await self._set_mode(mode)

    async def restore(self) -> None:
        await self._set_mode("up")

    async def uplink(self) -> str:
        try:
            return (await control(self._control_socket, {}))["mode"]
        except (OSError, ValueError, KeyError):
            return "unknown"

    # Probes ---------------------------------------------------------------------------------
    async def probe(self, probe: Probe) -> Outcome:
        if self._prober is None:
            t = self.topology
            place = Place(t.resolver_address, t.dns_port, t.http_port, source_address=t.resident_address)
            self._prober = Prober(place, t.crisis_name)
        return await self._prober.run(probe)

    async def close_probes(self) -> None:
        if self._prober is not None:
            await self._prober.aclose()
            self._prober = None
