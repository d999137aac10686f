"""The compose builder, and docker-compose.yml held to it: the file users read says the topology's addresses."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from island.compose.container import CREDENTIAL_FOLDER, PUBLIC_CA_FOLDER
from island.compose.settings import ComposeSettings
from island.topology import standard
from island.topology.compose import Layout

ROOT = Path(__file__).resolve().parents[3]
NET_VARIABLE = re.compile(r"\$\{ISLAND_DOCKER_NET:-[0-9.]+\}")


def compose_file(net: str) -> dict[str, Any]:
    """docker-compose.yml as compose reads it with ISLAND_DOCKER_NET set to ``net``."""
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(NET_VARIABLE.sub(net, text))
    return data


@pytest.mark.parametrize("net", ["198.18", "10.9"])
def test_compose_file_agrees_with_the_topology(net: str) -> None:
    layout, data = Layout(net), compose_file(net)
    declared = {
        name: (n["ipam"]["config"][0]["subnet"], n["ipam"]["config"][0]["gateway"], n.get("internal", False))
        for name, n in data["networks"].items()
    }
    assert declared == {name: (n.subnet, n.gateway, n.internal) for name, n in layout.networks().items()}
    addressed = {
        name: {network: where["ipv4_address"] for network, where in service["networks"].items()}
        for name, service in data["services"].items()
    }
    assert addressed == layout.containers()
    assert data["services"]["client"]["dns"] == [layout.resolver], "the phone is given the island resolver"


def test_the_compose_files_default_network_is_the_settings_default() -> None:
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    defaults = {m.group(0) for m in NET_VARIABLE.finditer(text)}
    assert defaults == {"${ISLAND_DOCKER_NET:-" + ComposeSettings.from_env({}).net + "}"}


def test_inside_the_containers() -> None:
    a = Layout("10.9").inside("krisinfo.kommun.example")
    assert (
        a.upstream_address,
        a.internet_address,
        a.resolver_address,
        a.site_address,
        a.resident_address,
    ) == (
        "10.9.1.1",
        "10.9.2.1",
        "10.9.3.1",
        "10.9.3.2",
        "10.9.4.10",
    )
    assert a.relay_address is None, "a router makes the cut; there is no relay"
    assert (a.dns_port, a.http_port) == (53, 80)
    assert a.client_networks == ("10.9.2.0/23", "10.9.4.0/24")


def test_the_host_sees_the_published_ports() -> None:
    settings = ComposeSettings.from_env({"ISLAND_HTTP_PORT": "8181", "ISLAND_DNS_PORT": "5301"})
    a = settings.from_host()
    assert a.site_url == "http://localhost:8181/"
    assert (a.resolver_address, a.dns_port) == ("127.0.0.1", 5301)
    bound = ComposeSettings.from_env({"ISLAND_HTTP_BIND": "127.9.0.1", "ISLAND_DNS_BIND": "127.9.0.1"})
    assert bound.from_host().site_url == "http://127.9.0.1:8080/"


def test_compose_file_publishes_https_and_shares_the_public_ca_and_the_credential() -> None:
    """HTTPS on the host as ISLAND_HTTPS_PORT; the upstream writes the public CA, the site and the phone trust it;
    the island's credential is the site's alone."""
    data = compose_file("10.9")
    default = ComposeSettings.from_env({}).https_port
    assert (
        f"${{ISLAND_HTTP_BIND:-0.0.0.0}}:${{ISLAND_HTTPS_PORT:-{default}}}:443/tcp"
        in (data["services"]["router"]["ports"])
    )
    mounts = {name: service.get("volumes", []) for name, service in data["services"].items()}
    assert mounts["upstream"] == [f"public-ca:{PUBLIC_CA_FOLDER}", f"island-credential:{CREDENTIAL_FOLDER}"]
    assert mounts["site"] == [f"public-ca:{PUBLIC_CA_FOLDER}:ro", f"island-credential:{CREDENTIAL_FOLDER}:ro"]
    assert mounts["client"] == [f"public-ca:{PUBLIC_CA_FOLDER}:ro"], "a phone has no island credential"
    assert set(data["volumes"]) == {"public-ca", "island-credential"}


def test_the_stack_is_one_island() -> None:
    with pytest.raises(ValueError, match="the compose stack is one island"):
        Layout("10.9", standard(2))
