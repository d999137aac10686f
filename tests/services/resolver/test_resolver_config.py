"""The resolver's configuration: defaults as documented, bad values named clearly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.resolver import ConfigError, load_config


def write(tmp_path: Path, config: dict) -> Path:
    path = tmp_path / "resolver.json"
    path.write_text(json.dumps(config))
    return path


def test_defaults_follow_rfc_8767_and_unbound_but_notice_a_restored_uplink_within_two_seconds(
    tmp_path: Path,
) -> None:
    config = load_config(write(tmp_path, {"listen": {"host": "127.0.0.1"}}))
    assert config.health.recheck_interval == 2
    # The island asks its upstreams by itself every half second: a cut shows within that and a forward budget.
    island = load_config(
        write(tmp_path, {"listen": {"host": "127.0.0.1"}, "island_mode": {"portal": "10.44.0.1"}})
    )
    assert island.island_mode is not None and island.island_mode.heartbeat == 0.5
    assert config.serve_stale.max_stale == 86400
    assert config.serve_stale.reply_ttl == 30
    assert config.serve_stale.client_timeout == 1.8
    assert config.metrics is None
    # On (Unbound's ip-ratelimit is off), per address, far above a busy trygghetspunkt (docs/resolver.md).
    assert config.rate_limit.responses_per_second == 2000 and config.rate_limit.burst == 4000
    assert (config.rate_limit.ipv4_prefix, config.rate_limit.ipv6_prefix) == (32, 128)
    assert config.limits.tcp_connections_per_client == 64


def test_a_bad_client_network_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"allow: .*'10\.20\.0\.0/33' is not a network"):
        load_config(write(tmp_path, {"listen": {"host": "127.0.0.1"}, "allow": ["10.20.0.0/33"]}))


def test_unknown_keys_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="serve_stale.max_stal"):
        load_config(write(tmp_path, {"listen": {"host": "127.0.0.1"}, "serve_stale": {"max_stal": 5}}))
