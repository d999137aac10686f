"""The Docker engine on the host: what to do when there is none, and what a failed `compose up` means."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from tiers import require_tier

from island.compose.docker import DockerError, require_engine, up_error
from island.compose.settings import ComposeSettings


def test_no_docker_command_says_how_to_get_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(DockerError, match=r"the docker command is not installed\. Install Docker Engine"):
        asyncio.run(require_engine())


def test_an_engine_that_does_not_answer_says_how_to_start_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    has_client = any((Path(p) / "docker").exists() for p in os.environ["PATH"].split(":"))
    require_tier(
        "docker",
        None if has_client else "the docker client is not installed (docker/ci-engine.sh installs it)",
    )
    with pytest.raises(DockerError, match=r"no Docker engine answers .*sudo systemctl start docker"):
        asyncio.run(require_engine())


def test_compose_up_errors_say_what_to_change() -> None:
    settings = ComposeSettings.from_env({})
    taken = up_error(
        "Error starting userland proxy: listen tcp4 0.0.0.0:8080: bind: address already in use", settings
    )
    assert (
        "Choose others with ISLAND_HTTP_PORT, ISLAND_HTTPS_PORT and ISLAND_DNS_PORT" in taken
        and "address already in use" in taken
    )
    overlap = up_error("Pool overlaps with other one on this address space", settings)
    assert "ISLAND_DOCKER_NET" in overlap
