"""The docker tier: a real engine, the real `island` command, the stack of docker-compose.yml.

Each checkout's test stack has its own compose project, networks and host addresses,
derived from ISLAND_TEST_NET_BASE, so it never meets a person's own `docker compose up`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from island_test_helpers import NET_BASE, IslandCLI, island_net
from tiers import require_tier

ROOT = Path(__file__).resolve().parents[2]
PROJECT = f"odrift-test{NET_BASE}"
DOCKER_NET = f"10.{NET_BASE + 5}"
HOST = f"{island_net(5)}.0.1"
LABEL = f"label=com.docker.compose.project={PROJECT}"
_STARTED = time.monotonic()


def progress(message: str) -> None:
    """Progress on the terminal even while pytest captures output: this tier takes minutes."""
    print(f"  [docker tier {time.monotonic() - _STARTED:5.0f} s] {message}", file=sys.__stderr__, flush=True)


def _docker(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)


def engine_reason() -> str | None:
    if shutil.which("docker") is None:
        return (
            "the docker command is not installed (Debian: docker/ci-engine.sh installs and starts an engine)"
        )
    if shutil.which("docker-compose") is None and _docker("compose", "version").returncode != 0:
        return "neither `docker compose` nor `docker-compose` is installed"
    info = _docker("info", "--format", "{{.ServerVersion}}", timeout=20)
    if info.returncode != 0:
        why = (info.stderr.strip().splitlines() or ["no answer"])[-1]
        return f"no Docker engine answers ({why}); start one, e.g. with docker/ci-engine.sh"
    return None


def base_image() -> str | None:
    """The base the CI builds on: ISLAND_BASE_IMAGE, else what ci-engine.sh made, else the users' default if present."""
    for image in (os.environ.get("ISLAND_BASE_IMAGE"), "odrift-base:bookworm-pebble", "python:3.11-slim"):
        if not image:
            continue
        if _docker("image", "inspect", image).returncode == 0:
            return image
    return None


def require_docker() -> str:
    require_tier("docker", engine_reason())
    image = base_image()
    require_tier(
        "docker",
        None if image else "no base image on this engine and none can be pulled: run docker/ci-engine.sh",
    )
    return image


def compose_cli(state_dir: Path, base: str, **extra: str) -> IslandCLI:
    cli = _ComposeCLI(state_dir, island_net(5))
    cli.extra = {
        "ISLAND_COMPOSE_PROJECT": PROJECT,
        "ISLAND_DOCKER_NET": DOCKER_NET,
        "ISLAND_HTTP_BIND": HOST,
        "ISLAND_DNS_BIND": HOST,
        "ISLAND_HTTP_PORT": "8080",
        "ISLAND_HTTPS_PORT": "8443",
        "ISLAND_DNS_PORT": "5300",
        "ISLAND_BASE_IMAGE": base,
        **extra,
    }
    return cli


class _ComposeCLI(IslandCLI):
    extra: dict[str, str]

    def env(self) -> dict[str, str]:
        env = super().env()
        for name in list(env):
            if name.startswith("ISLAND_") and name not in (
                "ISLAND_STATE_DIR",
                "ISLAND_NET",
                "ISLAND_TEST_NET_BASE",
                "ISLAND_REQUIRE_TIERS",
            ):
                del env[name]  # a person's own settings must not reach the test stack
        env.update(self.extra)
        return env


def project_objects(project: str = PROJECT) -> dict[str, list[str]]:
    """What the engine holds of one compose project: containers, networks, volumes."""
    label = f"label=com.docker.compose.project={project}"
    return {
        "containers": _docker("ps", "--all", "--quiet", "--filter", label).stdout.split(),
        "networks": _docker("network", "ls", "--quiet", "--filter", label).stdout.split(),
        "volumes": _docker("volume", "ls", "--quiet", "--filter", label).stdout.split(),
    }


def remove_project(project: str = PROJECT) -> None:
    """Clear what a crashed earlier run of this checkout's tests left (only this project's objects)."""
    found = project_objects(project)
    if found["containers"]:
        _docker("rm", "--force", "--volumes", *found["containers"])
    if found["networks"]:
        _docker("network", "rm", *found["networks"])
    if found["volumes"]:
        _docker("volume", "rm", *found["volumes"])


def docker(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return _docker(*args, timeout=timeout)
