"""A site file whose certificate comes by hand (`certificate: source: manual`), rehearsed on netns.

The rendered site serves HTTP only until the operator installs a certificate; the rehearsal hands
over one from the simulated public CA, as the municipality would on a USB stick, and
`island site install-cert` puts it where the rendered site.json says, without a restart.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from island_test_helpers import IslandCLI, in_namespace, island_net
from test_rehearsal import EXAMPLE, HTTPS_PAGE
from tiers import pebble_reason, require_tier

from island.backends import _netns
from island.backends.netns import NetnsBackend
from island.state import StateDir


@pytest.mark.e2e
def test_a_certificate_by_hand_is_installed_and_served_by_name(tmp_path: Path) -> None:
    require_tier("netns", _netns.unavailable_reason())
    require_tier("https", pebble_reason())
    site = tmp_path / "island.site.yaml"
    text = EXAMPLE.read_text()
    central = "  source: central\n  central_url: https://certifikat.kommun.example/api/island-certificate\n"
    assert central in text
    site.write_text(text.replace(central, "  source: manual\n"))
    cli = IslandCLI(tmp_path / "state", island_net(34))
    try:
        up = cli.run("up", "--backend", "netns", "--site", str(site), "--detach")
        assert up.returncode == 0, up.stdout + up.stderr
        assert "HTTPS:           by hand: install a certificate for krisinfo.kommun.example" in up.stdout
        install = re.search(r"island site install-cert (/\S+) (/\S+)", up.stdout)
        assert install is not None, up.stdout
        tls = cli.status()["tls"]
        assert tls["https"] == "off" and "island site install-cert" in tls["reason"], tls
        done = cli.run("site", "install-cert", *install.groups())
        assert done.returncode == 0, done.stderr
        root = cli.status()["site_file"]["rendered"]
        assert f"{root}/var/lib/odrift/tls/island.pem" in done.stdout  # where the rendered site.json looks
        deadline = time.monotonic() + 40  # the site rereads its folder at the rendered check interval
        while (tls := cli.status()["tls"])["https"] != "on" and time.monotonic() < deadline:
            time.sleep(1)
        assert tls["https"] == "on" and tls["names"] == ["krisinfo.kommun.example"], tls
        phone = NetnsBackend(StateDir(cli.state_dir)).prefix + "tpa"
        page = in_namespace(phone, HTTPS_PAGE.format(ca=tls["ca_file"]))
        assert "Här publicerar Sjöbacka kommun information" in page
    finally:
        down = cli.run("down", "--purge", "--yes")
        assert down.returncode == 0, down.stderr
