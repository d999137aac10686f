"""The compose stack's settings: from the environment with defaults, and the compose file substitutes each."""

from __future__ import annotations

from pathlib import Path

import yaml

from island.compose.settings import ComposeSettings

ROOT = Path(__file__).resolve().parents[3]


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
