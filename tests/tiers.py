"""Test tiers: a tier this machine cannot run is skipped with the reason, unless it is required.

CI sets ISLAND_REQUIRE_TIERS=all (or a comma-separated list of tiers): there, a tier
that cannot run fails instead of skipping, so a green run means every tier ran.
"""

from __future__ import annotations

import os
import socket

import pytest

TIERS = ("e2e", "netns", "docker", "browser", "hostile", "https")


def required(tier: str) -> bool:
    wanted = {t.strip() for t in os.environ.get("ISLAND_REQUIRE_TIERS", "").split(",") if t.strip()}
    return "all" in wanted or tier in wanted


def require_tier(tier: str, reason: str | None) -> None:
    """Call with the reason the tier cannot run here, or None when it can."""
    if reason is None:
        return
    if required(tier):
        pytest.fail(f"the {tier} tier is required here (ISLAND_REQUIRE_TIERS) but cannot run: {reason}")
    pytest.skip(f"{tier} tier skipped: {reason}")


def loopback_network_reason(net: str) -> str | None:
    """The local backend gives each service its own 127.x address; Linux has all of 127/8, macOS does not."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((f"{net}.0.1", 0))
    except OSError as exc:
        return f"cannot bind {net}.0.1 ({exc.strerror}); the local backend needs the whole 127.0.0.0/8 on loopback"
    return None


def pebble_reason() -> str | None:
    """The HTTPS tier needs Pebble, the simulated internet's public CA (Debian package `pebble`)."""
    from services.upstream.pebble import installed, not_installed_reason

    return None if installed() else not_installed_reason()
