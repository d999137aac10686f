"""The compose backend's pieces that need no Docker engine: its commands, its state, what it refuses."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from island_test_helpers import island_net

from island.backends import BACKENDS, UnsupportedFault, open_backend
from island.backends.base import BackendError
from island.backends.compose import ComposeBackend
from island.contract import Latency, UplinkCut
from island.state import StateDir

ROOT = Path(__file__).resolve().parents[3]


def test_compose_commands_name_the_file_and_the_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ISLAND_COMPOSE", "docker compose")
    monkeypatch.setenv("ISLAND_COMPOSE_PROJECT", "odrift-unit")
    backend = open_backend("compose", StateDir(tmp_path / "state"))
    assert isinstance(backend, ComposeBackend) and "compose" in BACKENDS
    assert backend.compose_argv("down", "--volumes") == [
        "docker",
        "compose",
        "--file",
        str(ROOT / "docker-compose.yml"),
        "--project-name",
        "odrift-unit",
        "down",
        "--volumes",
    ]
    assert backend.agent_argv()[:3] == ["python", "-m", "island.compose.probe_agent"]
    assert "198.18.3.1" in backend.agent_argv()


def test_a_running_island_is_found_again_with_its_own_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = StateDir(tmp_path / "state")
    monkeypatch.setenv("ISLAND_COMPOSE_PROJECT", "first")
    first = ComposeBackend(state)
    state.write(
        {
            "backend": "compose",
            "topology": first.addresses.to_dict(),
            "settings": first.settings.to_dict(),
            "compose_file": "/x/docker-compose.yml",
            "compose_cli": ["docker-compose"],
        }
    )
    monkeypatch.setenv("ISLAND_COMPOSE_PROJECT", "second")
    again = ComposeBackend(state)
    assert again.settings.project == "first"
    assert again.compose_argv("ps")[:5] == [
        "docker-compose",
        "--file",
        "/x/docker-compose.yml",
        "--project-name",
        "first",
    ]


def test_only_uplink_cuts_are_accepted(tmp_path: Path) -> None:
    backend = ComposeBackend(StateDir(tmp_path / "state"))
    backend.check_faults([UplinkCut(type="uplink-cut", mode="reject")])
    with pytest.raises(
        UnsupportedFault, match=r"the compose backend cannot apply: upstream latency 2000 ms \(latency\)"
    ):
        backend.check_faults([Latency(type="latency", delay_ms=2000)])


def test_a_taken_host_port_names_its_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    host = f"{island_net(7)}.0.1"
    monkeypatch.setenv("ISLAND_HTTP_BIND", host)
    monkeypatch.setenv("ISLAND_HTTP_PORT", "8080")
    backend = ComposeBackend(StateDir(tmp_path / "state"))
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind((host, 8080))
        squatter.listen()
        with pytest.raises(BackendError) as refused:
            backend._check_ports()
    message = str(refused.value)
    assert (
        f"port 8080/tcp on {host} on the host is already in use, and the crisis site is published there"
        in message
    )
    assert "ISLAND_HTTP_PORT=8081 island up --backend compose" in message
