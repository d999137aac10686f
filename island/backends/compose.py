"""The compose backend: the island as the Docker Compose stack of docker-compose.yml, on a real engine.

Faults are made in the router container (nftables), probes run in the resident's
container (``island.compose.probe_agent`` over ``docker exec``), and ``stop`` removes the
containers, networks and volumes of its own compose project, and nothing else.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from services.crisis_site.tls import STATUS_FILE
from services.ports import describe, is_taken
from services.tls.certificate import PAIR_FILE
from services.upstream import pebble

from ..certificates import https_url, tls_status
from ..compose import images
from ..compose.agent_client import AgentError, ProbeAgent
from ..compose.container import PUBLIC_CA_FILE, SITE_TLS_FOLDER
from ..compose.docker import DockerError, engine_answers, require_engine, run, up_error
from ..compose.router import TABLE, mode_from_listing, uplink_script
from ..compose.settings import ComposeSettings
from ..contract import Operation, Outcome
from ..service_specs import TLS_FOLDER
from ..state import StateDir
from ..topology import Addresses
from .base import Backend, BackendError, Say

SERVICES = ("upstream", "router", "resolver", "site", "client")
HEALTH_TIMEOUT = 120.0
HTTPS_TIMEOUT = 90.0  # the site's first certificate: Pebble starts, the municipality's, then the island's
UP_TIMEOUT = 600.0
PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
# Between the files of one `docker exec` that reads the site's TLS state (one exec, not three).
_SPLIT = "\n--odrift-file--\n"
_CERTIFICATE = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)


class ComposeBackend(Backend):
    name = "compose"

    @property
    def resident_url(self) -> str:
        return f"http://{self.addresses.crisis_name}/"  # inside the stack the site is on port 80

    @property
    def https_url(self) -> str:
        return https_url(self.addresses, self.settings.https_port)

    def __init__(self, state: StateDir, addresses: Addresses | None = None) -> None:
        recorded = state.read() or {}
        if recorded.get("backend") == "compose" and "settings" in recorded:
            self.settings = ComposeSettings.from_env(recorded["settings"])
            self._file: Path | None = Path(recorded["compose_file"])
            self._cli: list[str] | None = list(recorded["compose_cli"])
        else:
            self.settings = ComposeSettings.from_env()
            self._file = None
            self._cli = None
        self.layout = self.settings.layout
        super().__init__(state, addresses or self.settings.from_host())
        self._agent: ProbeAgent | None = None

    # Commands ---------------------------------------------------------------------------------
    def _compose_env(self) -> dict[str, str]:
        return {**os.environ, **self.settings.env()}

    def compose_argv(self, *args: str) -> list[str]:
        try:
            if self._file is None:
                self._file = images.compose_file()
            if self._cli is None:
                self._cli = images.compose_cli()
        except images.ImageError as exc:
            raise BackendError(str(exc)) from None
        return images.compose_argv(self._cli, self._file, self.settings.project, *args)

    async def _compose(self, *args: str, timeout: float = UP_TIMEOUT) -> subprocess.CompletedProcess[str]:
        return await _docker(self.compose_argv(*args), env=self._compose_env(), timeout=timeout)

    # Life cycle -------------------------------------------------------------------------------------
    async def start(self, say: Say) -> None:
        await _require_engine()
        if await self._containers():
            raise BackendError(
                f"the compose project {self.settings.project} already has containers (a `docker compose up` of "
                "its own, or an island another state folder started). Stop it with `docker compose down` "
                "in the folder of docker-compose.yml, or choose another project with ISLAND_COMPOSE_PROJECT"
            )
        self._check_ports()
        argv = self.compose_argv("ps")  # resolves the compose file and CLI, or says what is missing
        assert self._cli is not None  # resolved just now by compose_argv
        self.state.write(
            {
                "backend": self.name,
                "topology": self.addresses.to_dict(),
                "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "settings": self.settings.to_dict(),
                "compose_file": str(self._file),
                "compose_cli": self._cli,
                "uplink": "up",
            }
        )
        say(f"  compose project {self.settings.project} ({' '.join(argv[: len(self._cli)])}, {self._file})")
        try:
            await self._build(say)
            say("  starting the containers ...")
            up = await self._compose("up", "--detach", "--no-build")
            if up.returncode != 0:
                raise BackendError(up_error(up.stdout + up.stderr, self.settings))
            await self._wait_healthy(say)
            await self._wait_https(say)
        except BaseException:
            await self.stop(lambda _: None)
            raise

    async def _build(self, say: Say) -> None:
        image = self.settings.image
        root = images.source_root()
        if root is None or os.environ.get("ISLAND_COMPOSE_BUILD") == "0":
            if not await asyncio.to_thread(images.image_exists, image):
                raise BackendError(
                    f"the image {image} is not on this engine and cannot be built here; "
                    "load it from an island bundle (`docker load -i images.tar`) or run from the project's source"
                )
            say(f"  using the image {image} as it is")
            return
        started = time.monotonic()
        say("  building the wheelhouse (pip wheel) ...")
        try:
            await asyncio.to_thread(images.build_wheelhouse, root / images.WHEELHOUSE, root)
        except images.ImageError as exc:
            if not await asyncio.to_thread(images.image_exists, image):
                raise BackendError(str(exc)) from None
            say(f"  could not refresh the wheelhouse; using the image {image} as it is")
            return
        say(f"  building the image {image} on {self.settings.base_image} ...")
        log = self.state.file_for("build.log")
        build = await self._compose("build", "upstream")
        log.write_text(build.stdout + build.stderr, encoding="utf-8")
        if build.returncode != 0:
            raise BackendError(images.build_error(build.stdout + build.stderr, self.settings.base_image, log))
        # A rebuild leaves the previous image untagged; remove those of ours, nothing else.
        await _docker(
            ["docker", "image", "prune", "--force", "--filter", "label=org.odrift.island=1"], timeout=120
        )
        say(f"  built in {time.monotonic() - started:.0f} s")

    def _check_ports(self) -> None:
        s = self.settings
        needs = [
            ((s.http_bind, s.http_port, "tcp"), "ISLAND_HTTP_PORT", "crisis site"),
            ((s.http_bind, s.https_port, "tcp"), "ISLAND_HTTPS_PORT", "crisis site's HTTPS"),
            ((s.dns_bind, s.dns_port, "udp"), "ISLAND_DNS_PORT", "island resolver"),
            ((s.dns_bind, s.dns_port, "tcp"), "ISLAND_DNS_PORT", "island resolver"),
        ]
        for port, variable, what in needs:
            if is_taken(*port):
                raise BackendError(
                    f"{describe(port)} on the host is already in use, and the {what} is published there. "
                    f"Stop what uses it (`ss -lntup` shows it), or choose another port: "
                    f"{variable}={port[1] + 1} island up --backend compose"
                )

    async def _wait_healthy(self, say: Say) -> None:
        deadline = time.monotonic() + HEALTH_TIMEOUT
        reported: set[str] = set()
        containers: dict[str, dict[str, str]] = {}
        while time.monotonic() < deadline:
            containers = await self._containers()
            for service, c in containers.items():
                if c["status"] in ("exited", "dead"):
                    logs = await _docker(["docker", "logs", "--tail", "15", c["id"]], timeout=30)
                    raise BackendError(
                        f"the {service} container stopped while starting:\n{(logs.stdout + logs.stderr).strip()}"
                    )
                if c["health"] == "healthy" and service not in reported:
                    reported.add(service)
                    say(f"  started {service:<9} {self._where(service)}")
            if reported >= set(SERVICES):
                return
            await asyncio.sleep(0.5)
        waiting = ", ".join(
            f"{s} ({containers.get(s, {}).get('health') or 'missing'})" for s in SERVICES if s not in reported
        )
        raise BackendError(
            f"not healthy within {HEALTH_TIMEOUT:g} s: {waiting}. "
            f"See why with `docker inspect --format '{{{{json .State.Health}}}}' CONTAINER` or `docker logs CONTAINER`"
        )

    async def _wait_https(self, say: Say) -> None:
        """Until the site serves HTTPS with its certificate from the public CA (or says why it cannot)."""
        deadline = time.monotonic() + HTTPS_TIMEOUT
        while True:
            await self.refresh_tls()
            tls = tls_status(self.state)
            if tls["https"] == "on":
                say(
                    f"  HTTPS on     {self.https_url} (certificate from {tls.get('issuer', 'the public CA')})"
                )
                return
            if tls["reason"] == pebble.not_installed_reason() or time.monotonic() > deadline:
                say(f"  HTTPS off: {tls['reason'] or 'no answer from the site'} (HTTP keeps answering)")
                return
            await asyncio.sleep(1.0)

    async def refresh_tls(self) -> None:
        """Copy the public CA's root, the site's TLS status and its certificate chain (not its key) to the host."""
        try:
            site = await self._container("site")
        except BackendError:
            return
        # The pair's certificates only, picked inside the container: the key never leaves the site.
        reads = (
            f"cat {PUBLIC_CA_FILE} 2>/dev/null;",
            f"cat {SITE_TLS_FOLDER}/{STATUS_FILE} 2>/dev/null;",
            f"sed -n '/-BEGIN CERTIFICATE-/,/-END CERTIFICATE-/p' {SITE_TLS_FOLDER}/{PAIR_FILE} 2>/dev/null;",
        )
        script = f" printf '{_SPLIT}'; ".join(reads)
        done = await _docker(["docker", "exec", site, "sh", "-c", script], timeout=30)
        parts = done.stdout.split(_SPLIT)
        if done.returncode != 0 or len(parts) != len(reads):
            return
        ca, status, pair = parts
        folder = self.state.data_dir / TLS_FOLDER
        folder.mkdir(parents=True, exist_ok=True)
        chain = "".join(m.group(0) + "\n" for m in _CERTIFICATE.finditer(pair))
        for target, text in (
            (self.state.path / pebble.PUBLIC_CA_FILE, ca),
            (folder / STATUS_FILE, status),
            (folder / PAIR_FILE, chain),
        ):
            if text.strip():
                target.write_text(text, encoding="utf-8")
            else:
                target.unlink(missing_ok=True)

    async def install_certificate(self, pair: Path) -> None:
        """Into the site's TLS folder in its container (replaced at once); the host keeps the chain only."""
        site = await self._container("site")
        target = f"{SITE_TLS_FOLDER}/{PAIR_FILE}"
        script = f"umask 077 && cat > {target}.tmp && mv -f {target}.tmp {target}"
        argv = ["docker", "exec", "--interactive", site, "sh", "-c", script]
        done = await asyncio.to_thread(
            subprocess.run, argv, input=pair.read_bytes(), capture_output=True, timeout=30
        )
        if done.returncode != 0:
            raise BackendError(
                f"could not write it in the site container: {done.stderr.decode(errors='replace').strip()}"
            )
        await self.refresh_tls()

    def _where(self, service: str) -> str:
        lo, s, t = self.layout, self.settings, self.addresses
        return {
            "upstream": f"{lo.upstream} (the simulated internet)",
            "router": f"{lo.router_upstream} | {lo.router_island} | {lo.router_client} (the uplink)",
            "resolver": f"{lo.resolver}, on the host {t.resolver_address}:{s.dns_port}",
            "site": f"{lo.site}, on the host {t.site_url} and HTTPS port {s.https_port}",
            "client": f"{lo.resident} (a resident at the trygghetspunkt)",
        }[service]

    async def _containers(self) -> dict[str, dict[str, str]]:
        """This project's containers by service: id, status and health."""
        listed = await _docker(
            ["docker", "ps", "--all", "--quiet", "--filter", f"label={PROJECT_LABEL}={self.settings.project}"]
        )
        ids = listed.stdout.split()
        if not ids:
            return {}
        fmt = (
            f'{{{{.Id}}}} {{{{index .Config.Labels "{SERVICE_LABEL}"}}}} {{{{.State.Status}}}} '
            "{{if .State.Health}}{{.State.Health.Status}}{{end}}"
        )
        inspected = await _docker(["docker", "inspect", "--format", fmt, *ids])
        found = {}
        for line in inspected.stdout.splitlines():
            cid, service, status, *health = line.split()
            found[service] = {"id": cid, "status": status, "health": health[0] if health else ""}
        return found

    async def _container(self, service: str) -> str:
        c = (await self._containers()).get(service)
        if c is None or c["status"] != "running":
            raise BackendError(
                f"the {service} container of {self.settings.project} is not running; is the island up? Try `island status`."
            )
        return c["id"]

    def is_running(self) -> bool:
        if shutil.which("docker") is None:
            return False
        listed = subprocess.run(
            ["docker", "ps", "--quiet", "--filter", f"label={PROJECT_LABEL}={self.settings.project}"],
            capture_output=True,
            text=True,
        )
        return listed.returncode == 0 and bool(listed.stdout.split())

    async def stop(self, say: Say) -> None:
        await self.close_probes()
        if shutil.which("docker") is not None and await engine_answers():
            try:
                down = await self._compose(
                    "down", "--volumes", "--remove-orphans", "--timeout", "5", timeout=180
                )
                if down.returncode != 0:
                    say(f"  `down` said: {down.stderr.strip()[-300:]}")
            except BackendError as exc:
                say(f"  {exc}; removing by label instead")
            await self._remove_leftovers()
            say(f"  removed the containers, networks and volumes of {self.settings.project}")
        self.state.clear()

    async def _remove_leftovers(self) -> None:
        """Whatever `down` missed (a compose file that changed, a crash half-way), by the project label only."""
        label = f"label={PROJECT_LABEL}={self.settings.project}"
        for kind, remove in (
            ("ps --all", "rm --force --volumes"),
            ("network ls", "network rm"),
            ("volume ls", "volume rm"),
        ):
            listed = await _docker(["docker", *kind.split(), "--quiet", "--filter", label])
            ids = listed.stdout.split()
            if ids:
                await _docker(["docker", *remove.split(), *ids])

    async def status(self) -> dict[str, Any]:
        containers = await self._containers()
        return {
            service: {
                "running": containers.get(service, {}).get("status") == "running",
                "health": containers.get(service, {}).get("health", "missing"),
                "where": self._where(service),
            }
            for service in SERVICES
        }

    def data_location(self) -> str | None:
        return None  # in the site container; Docker restarts a crashed container (restart: unless-stopped)

    async def restart_service(self, name: str, say: Say) -> None:
        if name not in SERVICES:
            raise BackendError(f"the compose island has no service {name!r}; it has {', '.join(SERVICES)}")
        done = await self._compose("restart", name, timeout=180)
        if done.returncode != 0:
            raise BackendError(
                f"`compose restart {name}` failed: {(done.stderr or done.stdout).strip()[-300:]}"
            )

    # The uplink ----------------------------------------------------------------------------------------
    async def _nft(self, *args: str, script: str | None = None) -> str:
        """nft in the router container, straight (no Python start-up there: a cut lands in a fraction of a second)."""
        router = await self._container("router")
        argv = ["docker", "exec", *(["--interactive"] if script is not None else []), router, "nft", *args]
        try:
            done = await asyncio.to_thread(
                subprocess.run, argv, input=script, capture_output=True, text=True, timeout=30
            )
        except subprocess.TimeoutExpired:
            raise BackendError(
                "the router did not answer within 30 s; see `docker logs` of its container"
            ) from None
        if done.returncode != 0:
            raise BackendError(f"the router refused: {(done.stderr or done.stdout).strip()}")
        return done.stdout

    async def _set_uplink(self, mode: str) -> None:
        await self._nft("-f", "-", script=uplink_script(mode, self.layout))
        self.state.update(uplink=mode)

    async def cut(self, mode: str) -> None:
        await self._set_uplink(mode)

    async def restore(self) -> None:
        await self._set_uplink("up")

    async def uplink(self) -> str:
        try:
            return mode_from_listing(await self._nft("list", "chain", "ip", TABLE, "uplink"))
        except BackendError:
            return "unknown"

    # Probes ------------------------------------------------------------------------------------------
    async def probe(self, probe: Operation) -> Outcome:
        if self._agent is None:
            client = await self._container("client")
            try:
                self._agent = await ProbeAgent.start(
                    ["docker", "exec", "--interactive", "--user", "island", client, *self.agent_argv()]
                )
            except AgentError as exc:
                raise BackendError(str(exc)) from None
        try:
            return await self._agent.run(probe)
        except AgentError as exc:
            raise BackendError(str(exc)) from None

    def agent_argv(self) -> list[str]:
        return [
            "python",
            "-m",
            "island.compose.probe_agent",
            "--resolver",
            self.layout.resolver,
            "--dns-port",
            "53",
            "--http-port",
            "80",
            "--https-port",
            "443",
            "--ca-file",
            PUBLIC_CA_FILE,
            "--crisis-name",
            self.settings.crisis_name,
        ]

    async def close_probes(self) -> None:
        if self._agent is not None:
            await self._agent.close()
            self._agent = None


# The engine's errors are the person's to act on, as every backend's are.
async def _docker(
    argv: Sequence[str], env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    try:
        return await run(argv, env=env, timeout=timeout)
    except DockerError as exc:
        raise BackendError(str(exc)) from None


async def _require_engine() -> None:
    try:
        await require_engine()
    except DockerError as exc:
        raise BackendError(str(exc)) from None
