"""HTTPS on the netns backend: a phone in a trygghetspunkt's namespace (its resolv.conf names the island
resolver) learns the municipality's HSTS policy with curl, then, cut off, gets the crisis page over HTTPS."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from island_test_helpers import IslandCLI, curl_trusting, island_net
from tiers import pebble_reason, require_tier

from island.backends import _netns
from island.backends.netns import NetnsBackend
from island.state import StateDir

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def island(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IslandCLI]:
    require_tier("netns", _netns.unavailable_reason())
    require_tier("https", pebble_reason())
    cli = IslandCLI(tmp_path_factory.mktemp("https-netns") / "state", island_net(102))
    cli.run("up", "--backend", "netns", "--detach", check=True)
    try:
        yield cli
    finally:
        cli.run("uplink", "restore")
        assert cli.run("down").returncode == 0


def phone_curl(cli: IslandCLI, *args: str) -> subprocess.CompletedProcess[str]:
    """curl in trygghetspunkt-a's namespace, trusting only the simulated public CA."""
    namespace = f"{NetnsBackend(StateDir(cli.state_dir)).prefix}tpa"
    return curl_trusting(cli.status()["tls"]["ca_file"], *args, namespace=namespace)


def test_a_phone_with_the_municipalitys_hsts_gets_the_crisis_page_over_https_while_cut(
    island: IslandCLI, tmp_path: Path
) -> None:
    hsts = tmp_path / "hsts.txt"
    learnt = phone_curl(island, "--hsts", str(hsts), "--include", "https://kommun.example/")
    assert learnt.returncode == 0, learnt.stderr
    assert "strict-transport-security: max-age=31536000; includeSubDomains" in learnt.stdout
    island.run("uplink", "cut", check=True)
    page = phone_curl(
        island,
        "--hsts",
        str(hsts),
        "--write-out",
        "\n%{url_effective} %{http_code}",
        "http://krisinfo.kommun.example/",
    )
    assert page.returncode == 0, page.stderr
    body, _, outcome = page.stdout.rpartition("\n")
    assert outcome == "https://krisinfo.kommun.example/ 200" and "Krisinformation" in body
