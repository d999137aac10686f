"""The island's Docker image and compose file on the host: where they are, the wheelhouse, the compose CLI.

Used by the compose backend (to build and start the stack) and by ``island bundle``
(to pack it for a machine with no internet).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = "docker/Dockerfile"
WHEELHOUSE = "docker/wheelhouse"


class ImageError(RuntimeError):
    """A step on the host failed; the message says what to do."""


def source_root() -> Path | None:
    """The project's source tree (with the Dockerfile), when island runs from a checkout."""
    return PROJECT_ROOT if (PROJECT_ROOT / DOCKERFILE).is_file() else None


def compose_file(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    candidates = (
        [Path(env["ISLAND_COMPOSE_FILE"])]
        if env.get("ISLAND_COMPOSE_FILE")
        else [
            PROJECT_ROOT / "docker-compose.yml",
            Path.cwd() / "docker-compose.yml",
        ]
    )
    for path in candidates:
        if path.is_file():
            return path.resolve()
    raise ImageError(
        f"no docker-compose.yml found (looked at {', '.join(map(str, candidates))}); "
        "run from the folder that has it, or set ISLAND_COMPOSE_FILE"
    )


def compose_cli(env: Mapping[str, str] | None = None) -> list[str]:
    """`docker compose` (v2) when the plugin answers, else `docker-compose` (1.29); ISLAND_COMPOSE overrides."""
    env = os.environ if env is None else env
    if env.get("ISLAND_COMPOSE"):
        return env["ISLAND_COMPOSE"].split()
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    raise ImageError(
        "neither `docker compose` nor `docker-compose` is installed; install Docker Compose "
        "(Debian: apt-get install docker-compose) and try again"
    )


def compose_argv(cli: Sequence[str], file: Path, project: str, *args: str) -> list[str]:
    return [*cli, "--file", str(file), "--project-name", project, *args]


def build_wheelhouse(dest: Path, root: Path | None = None, python: str = sys.executable) -> list[Path]:
    """The project and every dependency as wheels (and setuptools, to build the project offline)."""
    root = root or source_root()
    if root is None:
        raise ImageError(
            "the wheelhouse is built from the project's source tree, and island does not run from one"
        )
    dest.mkdir(parents=True, exist_ok=True)
    for old in dest.glob("odrift_island-*.whl"):  # same version, new code: never keep a stale one
        old.unlink()
    done = subprocess.run(
        [
            python,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--disable-pip-version-check",
            "--wheel-dir",
            str(dest),
            str(root),
            "setuptools>=77",
        ],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise ImageError(
            "`pip wheel` could not build the wheelhouse (it needs the package index, or a pip "
            f"configured with --find-links):\n{_tail(done.stderr or done.stdout)}"
        )
    return sorted(dest.glob("*.whl"))


def image_exists(image: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode == 0


def build_error(output: str, base_image: str, log: Path | None = None) -> str:
    """What to say when the image did not build; most often, the base image could not be pulled."""
    where = f" (whole output: {log})" if log else ""
    text = f"building the island image failed{where}:\n{_tail(output)}"
    if any(
        sign in output
        for sign in ("pull access denied", "registry", "no such host", "failed to resolve", "manifest")
    ):
        text += (
            f"\nThe base image {base_image} could not be pulled. With no internet, build one locally: "
            "`sudo docker/ci-engine.sh` builds it and prints its name; then set ISLAND_BASE_IMAGE to that name "
            "(for example ISLAND_BASE_IMAGE=odrift-base:bookworm-pebble) and try again."
        )
    return text


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])
