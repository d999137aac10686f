"""`island bundle`: its wheelhouse installs the island with no package index, and the installed island runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from island_test_helpers import island_net
from tiers import loopback_network_reason, require_tier

pytestmark = pytest.mark.e2e


def offline_env(**extra: str) -> dict[str, str]:
    """No pip configuration of this machine, and any attempt to reach a registry goes nowhere."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "ISLAND_")) and k != "VIRTUAL_ENV"
    }
    env.update(
        PIP_CONFIG_FILE=os.devnull,
        HTTP_PROXY="http://127.0.0.1:9",
        HTTPS_PROXY="http://127.0.0.1:9",
        http_proxy="http://127.0.0.1:9",
        https_proxy="http://127.0.0.1:9",
        **extra,
    )
    return env


def install_offline(wheelhouse: Path, venv: Path) -> str:
    """A fresh venv with the island installed from the wheelhouse alone; returns the `island` command."""
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    install = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-index",
            "--find-links",
            str(wheelhouse),
            "odrift-island",
        ],
        env=offline_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    return str(venv / "bin" / "island")


def test_the_bundle_wheelhouse_installs_offline_and_the_island_starts(tmp_path: Path) -> None:
    net = island_net(6)
    require_tier("e2e", loopback_network_reason(net))
    out = tmp_path / "bundle"
    made = subprocess.run(
        [sys.executable, "-m", "island", "bundle", str(out), "--no-images"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert made.returncode == 0, made.stdout + made.stderr
    assert "Images left out" in made.stdout
    assert {p.name for p in out.iterdir()} == {"wheelhouse", "docker-compose.yml", "README.md"}
    assert "pip install --no-index --find-links wheelhouse odrift-island" in (out / "README.md").read_text()

    island = install_offline(out / "wheelhouse", tmp_path / "venv")
    env = offline_env(ISLAND_STATE_DIR=str(tmp_path / "state"), ISLAND_NET=net)
    help_text = subprocess.run([island, "--help"], env=env, capture_output=True, text=True, timeout=60)
    assert help_text.returncode == 0 and "bundle" in help_text.stdout

    up = subprocess.run([island, "up", "--detach"], env=env, capture_output=True, text=True, timeout=120)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        status = json.loads(
            subprocess.run(
                [island, "status", "--json"], env=env, capture_output=True, text=True, timeout=60
            ).stdout
        )
        assert status["up"] is True and all(s["running"] for s in status["services"].values())
        assert status["resolver"]["host"] == f"{net}.3.1"
    finally:
        down = subprocess.run([island, "down"], env=env, capture_output=True, text=True, timeout=120)
    assert down.returncode == 0 and "The island is down." in down.stdout, down.stdout + down.stderr
