"""The bundle's compose file: the saved image, nothing to build."""

from __future__ import annotations

from pathlib import Path

import yaml

from island.compose.bundle import offline_compose

ROOT = Path(__file__).resolve().parents[3]


def test_the_bundle_compose_file_has_no_build_and_keeps_the_rest() -> None:
    text = offline_compose(ROOT / "docker-compose.yml")
    data = yaml.safe_load(text)
    assert "build" not in data["x-island"]
    assert (
        data["services"]["router"]["ports"]
        == yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["router"]["ports"]
    )
    assert "# From an island bundle" in text and "internal: true" in text
