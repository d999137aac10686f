"""The compose backend's pieces that need no Docker engine: settings, router rules, commands, errors."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from island_test_helpers import island_net
from tiers import require_tier

from island.backends import BACKENDS, UnsupportedFault, open_backend
from island.backends.base import BackendError
from island.backends.compose import ComposeBackend, _require_engine, host_topology
from island.bundle import offline_compose
from island.contract import Latency, UplinkCut
from island.stack.health import dns_ok
from island.stack.router import mode_from_listing, ruleset, uplink_script
from island.stack.topology import ComposeSettings, Layout
from island.state import StateDir

ROOT = Path(__file__).resolve().parents[2]


def test_settings_come_from_the_environment_with_defaults_for_users() -> None:
    settings = ComposeSettings.from_env({})
    assert (settings.project, settings.net, settings.http_port, settings.dns_port) == (
        "odrift-island",
        "198.18",
        8080,
        5300,
    )
    assert settings.base_image == "python:3.11-slim"
    moved = ComposeSettings.from_env(
        {"ISLAND_COMPOSE_PROJECT": "mine", "ISLAND_HTTP_PORT": "9090", "ISLAND_DOCKER_NET": "10.7"}
    )
    assert (moved.project, moved.http_port, moved.net) == ("mine", 9090, "10.7")
    assert ComposeSettings.from_env(moved.env()) == moved


def test_layout_matches_the_topology_of_the_other_backends() -> None:
    layout = Layout("10.9")
    t = layout.topology("krisinfo.kommun.example")
    assert (t.upstream_address, t.uplink_address, t.resolver_address, t.site_address, t.resident_address) == (
        "10.9.1.1",
        "10.9.2.1",
        "10.9.3.1",
        "10.9.3.2",
        "10.9.4.10",
    )
    assert (t.dns_port, t.http_port) == (53, 80)


def test_the_host_sees_the_published_ports() -> None:
    settings = ComposeSettings.from_env({"ISLAND_HTTP_PORT": "8181", "ISLAND_DNS_PORT": "5301"})
    t = host_topology(settings, Layout(settings.net))
    assert t.site_url == "http://localhost:8181/"
    assert (t.resolver_address, t.dns_port) == ("127.0.0.1", 5301)
    bound = ComposeSettings.from_env({"ISLAND_HTTP_BIND": "127.9.0.1", "ISLAND_DNS_BIND": "127.9.0.1"})
    assert host_topology(bound, Layout(bound.net)).site_url == "http://127.9.0.1:8080/"


def test_compose_file_substitutes_every_setting_the_backend_passes() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    for variable in ComposeSettings.from_env({}).env():
        if variable != "ISLAND_COMPOSE_PROJECT":  # the project is the CLI's --project-name
            assert "${" + variable + ":-" in text, variable
    data = yaml.safe_load(text)
    assert data["version"] == "2.4", "docker-compose 1.29 needs the 2.x format for depends_on conditions"
    assert data["networks"]["island"]["internal"] is True
    assert data["networks"]["upstream"]["internal"] is True
    for name, service in data["services"].items():
        assert service["healthcheck"]["test"][-1] == name, f"{name} has its own healthcheck"
    assert data["services"]["client"]["depends_on"]["resolver"] == {"condition": "service_healthy"}
    assert data["services"]["router"]["cap_add"] == ["NET_ADMIN"]
    assert "user" not in data["services"]["resolver"], "the services run as the image's non-root user"


def test_router_rules_give_the_island_its_internet_and_nothing_else() -> None:
    rules = ruleset(Layout("10.9"))
    assert "ip daddr 10.9.2.1 meta l4proto { tcp, udp } th dport 53 dnat to 10.9.1.1" in rules
    assert "ip daddr 10.9.4.1 tcp dport 80 dnat to 10.9.3.2" in rules
    assert "type filter hook forward priority filter; policy drop;" in rules
    assert "ip daddr { 10.9.1.0/24, 10.9.2.0/23, 10.9.4.0/24 } accept" in rules


@pytest.mark.parametrize("mode", ["blackhole", "reject"])
def test_a_cut_is_one_transaction_that_says_its_mode(mode: str) -> None:
    script = uplink_script(mode, Layout("10.9"))
    lines = script.splitlines()
    assert lines[0] == "flush chain ip odrift_uplink uplink"
    assert all("10.9.1.0/24" in line and f'comment "uplink-cut:{mode}"' in line for line in lines[1:])
    assert any(line.endswith(f'drop comment "uplink-cut:{mode}"') for line in lines)
    assert ("reject" in script) == (mode == "reject")
    listing = (
        "table ip odrift_uplink {\n chain uplink {\n"
        + "".join(lines[1:]).replace("add rule ip odrift_uplink uplink", "")
        + "}\n}"
    )
    assert mode_from_listing(listing) == mode


def test_restore_empties_the_chain_and_a_bad_mode_is_refused() -> None:
    assert uplink_script("up", Layout("10.9")) == "flush chain ip odrift_uplink uplink\n"
    assert mode_from_listing("table ip odrift_uplink {\n\tchain uplink {\n\t}\n}") == "up"
    with pytest.raises(ValueError, match="unknown uplink mode 'sideways'"):
        uplink_script("sideways", Layout("10.9"))


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
    assert backend.agent_argv()[:3] == ["python", "-m", "island.probe_agent"]
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
            "topology": first.topology.to_dict(),
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


def test_no_docker_command_says_how_to_get_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BackendError, match=r"the docker command is not installed\. Install Docker Engine"):
        asyncio.run(_require_engine())


def test_an_engine_that_does_not_answer_says_how_to_start_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    has_client = any((Path(p) / "docker").exists() for p in os.environ["PATH"].split(":"))
    require_tier(
        "docker",
        None if has_client else "the docker client is not installed (docker/ci-engine.sh installs it)",
    )
    with pytest.raises(BackendError, match=r"no Docker engine answers .*sudo systemctl start docker"):
        asyncio.run(_require_engine())


def test_the_bundle_compose_file_has_no_build_and_keeps_the_rest() -> None:
    text = offline_compose(ROOT / "docker-compose.yml")
    data = yaml.safe_load(text)
    assert "build" not in data["x-island"]
    assert (
        data["services"]["router"]["ports"]
        == yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["router"]["ports"]
    )
    assert "# From an island bundle" in text and "internal: true" in text


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@pytest.mark.e2e
def test_probe_agent_answers_each_request_by_id_from_a_real_resolver(tmp_path: Path) -> None:
    host = f"{island_net(7)}.3.1"
    port = _free_port(host)
    config = tmp_path / "resolver.json"
    config.write_text(
        json.dumps(
            {
                "listen": {"host": host, "port": port},
                "local_zones": [{"name": "krisinfo.kommun.example", "data": "@ 30 IN A 10.9.3.2\n"}],
            }
        )
    )
    resolver = subprocess.Popen(
        [sys.executable, "-m", "services.resolver", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(1.0)
        dns_ok(
            "krisinfo.kommun.example", host, port
        )  # the containers' cheap healthcheck, on the same resolver
        with pytest.raises(RuntimeError, match="rcode 3, 0 answers"):
            dns_ok("nope.krisinfo.kommun.example", host, port)
        requests = [
            {
                "id": 1,
                "probe": {"name": "crisis-dns", "dns": {"name": "{crisis_name}", "address": "10.9.3.2"}},
            },
            {
                "id": 2,
                "probe": {
                    "name": "other",
                    "dns": {"name": "nope.krisinfo.kommun.example", "rcode": "NXDOMAIN"},
                },
            },
            {
                "id": 3,
                "probe": {
                    "name": "page",
                    "http": {"url": f"http://{island_net(7)}.3.9:{port}/"},
                    "timeout": 2,
                },
            },
        ]
        agent = subprocess.run(
            [
                sys.executable,
                "-m",
                "island.probe_agent",
                "--resolver",
                host,
                "--dns-port",
                str(port),
                "--crisis-name",
                "krisinfo.kommun.example",
            ],
            input="".join(json.dumps(r) + "\n" for r in requests),
            capture_output=True,
            text=True,
            timeout=30,
        )
    finally:
        resolver.terminate()
        resolver.wait(10)
    lines = [json.loads(line) for line in agent.stdout.splitlines()]
    assert lines[0] == {"ready": True}, agent.stderr
    answers = {a["id"]: a for a in lines[1:]}
    assert set(answers) == {1, 2, 3}, agent.stderr
    assert answers[1]["status"] == "ok" and "10.9.3.2" in answers[1]["detail"]
    assert answers[2]["status"] == "ok" and answers[2]["detail"].startswith("NXDOMAIN")
    assert answers[3]["status"] == "fail" and "HTTP" in answers[3]["detail"], "nothing listens there"
    assert all(a["latency_ms"] > 0 for a in answers.values())


def test_compose_up_errors_say_what_to_change() -> None:
    from island.backends.compose import _up_error

    settings = ComposeSettings.from_env({})
    taken = _up_error(
        "Error starting userland proxy: listen tcp4 0.0.0.0:8080: bind: address already in use", settings
    )
    assert (
        "Choose others with ISLAND_HTTP_PORT and ISLAND_DNS_PORT" in taken
        and "address already in use" in taken
    )
    overlap = _up_error("Pool overlaps with other one on this address space", settings)
    assert "ISLAND_DOCKER_NET" in overlap


def test_a_base_image_that_cannot_be_pulled_points_to_the_local_one() -> None:
    from island.images import build_error

    output = 'Step 2/13 : FROM ${BASE_IMAGE}\nGet "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io: no such host'
    message = build_error(output, "python:3.11-slim", Path("/tmp/build.log"))
    assert message.startswith("building the island image failed (whole output: /tmp/build.log)")
    assert "The base image python:3.11-slim could not be pulled" in message
    assert "ISLAND_BASE_IMAGE=odrift-base:bookworm" in message
    assert "could not be pulled" not in build_error(
        "Step 9/13 : RUN pip install\nERROR: No matching distribution", "x"
    )
