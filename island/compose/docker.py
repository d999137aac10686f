"""The Docker engine on the host, as the compose backend asks it: commands with a time limit, and what to say
when there is no engine or `compose up` fails."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Sequence

from . import images
from .settings import ComposeSettings


class DockerError(RuntimeError):
    """Something the person running the island must act on; the message says what to do."""


async def run(
    argv: Sequence[str], env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    try:
        return await asyncio.to_thread(
            subprocess.run,
            list(argv),
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError:
        raise DockerError(
            f"`{argv[0]}` is not installed; install Docker (Debian: apt-get install docker.io docker-compose)"
        ) from None
    except subprocess.TimeoutExpired:
        raise DockerError(f"`{' '.join(argv[:4])} ...` did not finish within {timeout:g} s") from None


async def engine_answers() -> bool:
    try:
        return (await run(["docker", "info", "--format", "{{.ServerVersion}}"], timeout=20)).returncode == 0
    except DockerError:
        return False


async def require_engine() -> None:
    if shutil.which("docker") is None:
        raise DockerError(
            "the docker command is not installed. Install Docker Engine with compose "
            "(Debian: apt-get install docker.io docker-compose), start it, and try again"
        )
    info = await run(["docker", "info", "--format", "{{.ServerVersion}}"], timeout=20)
    if info.returncode != 0:
        why = (info.stderr.strip().splitlines() or ["no answer"])[-1]
        raise DockerError(
            f"no Docker engine answers ({why}). Start it: `sudo systemctl start docker`, or Docker Desktop; "
            "on a Debian machine without systemd, `sudo docker/ci-engine.sh` installs and starts one"
        )


def up_error(output: str, settings: ComposeSettings) -> str:
    lowered = output.lower()
    if "port is already allocated" in lowered or "address already in use" in lowered:
        return (
            f"a host port the island publishes is taken ({settings.http_port}/tcp, {settings.https_port}/tcp "
            f"or {settings.dns_port}/udp+tcp). "
            "Choose others with ISLAND_HTTP_PORT, ISLAND_HTTPS_PORT and ISLAND_DNS_PORT, or stop what uses them.\n"
            + images._tail(output)
        )
    if "pool overlaps" in lowered or "overlap" in lowered:
        return (
            f"the island's networks ({settings.net}.0.0/16 ...) overlap a network that exists already. "
            "Choose another prefix with ISLAND_DOCKER_NET (for example 198.19).\n" + images._tail(output)
        )
    return "`compose up` failed:\n" + images._tail(output)
