"""`island deploy render`: the example site renders into files the real services and tools accept."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from island_test_helpers import NET_BASE
from tiers import require_tier

from island.deploy.render import render_site
from island.deploy.site import load_site
from services.crisis_site.content import load_seed
from services.gate.gate import Gate
from services.region.server import binary
from services.resolver.config import load_config

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "island.site.yaml"


def _tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rendered")
    render_site(load_site(EXAMPLE), out)
    return out


def test_rendering_twice_gives_the_same_bytes(rendered: Path, tmp_path: Path) -> None:
    render_site(load_site(EXAMPLE), tmp_path)
    assert _tree(tmp_path) == _tree(rendered)
    assert sorted(p.name for p in rendered.iterdir()) == ["biblioteket", "norrbyskolan"]


def test_the_resolver_configuration_is_the_resolvers_own_format(rendered: Path) -> None:
    config = load_config(rendered / "biblioteket" / "etc/odrift/resolver.yaml")
    assert config.listen.port == 53
    zone = config.local_zones[0]
    assert zone.name == "krisinfo.kommun.example" and "10.44.0.1" in zone.data
    assert [u.host for u in config.upstreams] == ["192.0.2.53", "198.51.100.53"]
    # Only the island's own Wi-Fi (and the box itself) may ask: no open resolver on the uplink.
    assert "10.44.0.0/22" in config.allow and "0.0.0.0/0" not in config.allow
    assert "10.44.4.0/22" in load_config(rendered / "norrbyskolan" / "etc/odrift/resolver.yaml").allow


def test_the_first_page_lists_every_trygghetspunkt_and_no_message(rendered: Path) -> None:
    seed = load_seed(rendered / "biblioteket" / "etc/odrift/content.yaml")
    assert seed.municipality == "Sjöbacka kommun"
    assert seed.messages == []
    assert [p.name for p in seed.trygghetspunkter] == ["Stadsbiblioteket", "Norrbyskolan, idrottshallen"]


def test_dhcp_announces_the_island_and_the_captive_portal_api(rendered: Path) -> None:
    text = (rendered / "biblioteket" / "etc/dnsmasq.d/odrift.conf").read_text(encoding="utf-8")
    assert "port=0" in text.splitlines()  # DHCP only: the island resolver answers DNS
    assert "dhcp-range=10.44.0.100,10.44.3.250,255.255.252.0,60m" in text
    assert "dhcp-option=option:dns-server,10.44.0.1" in text
    assert 'dhcp-option=114,"https://krisinfo.kommun.example/api/captive"' in text


@pytest.mark.parametrize(
    ("unit", "capability"),
    [
        ("odrift-resolver", "CAP_NET_BIND_SERVICE"),
        ("odrift-site", "CAP_NET_BIND_SERVICE"),
        ("odrift-gate", "CAP_NET_ADMIN"),  # it changes one chain of the firewall, nothing else
    ],
)
def test_units_are_hardened_and_restart(rendered: Path, unit: str, capability: str) -> None:
    text = (rendered / "biblioteket" / f"etc/systemd/system/{unit}.service").read_text(encoding="utf-8")
    for line in (
        "Restart=on-failure",
        "DynamicUser=yes",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "StateDirectory=odrift",
        f"AmbientCapabilities={capability}",
        f"CapabilityBoundingSet={capability}",
    ):
        assert line in text.splitlines(), (unit, line)


def test_the_compose_file_keeps_the_data_in_a_named_volume(rendered: Path) -> None:
    compose = yaml.safe_load((rendered / "biblioteket" / "docker-compose.yml").read_text(encoding="utf-8"))
    assert set(compose["services"]) == {"resolver", "site"}
    assert "odrift-data:/var/lib/odrift" in compose["services"]["site"]["volumes"]
    assert compose["volumes"]["odrift-data"]["name"] == "odrift-biblioteket-data"


@pytest.mark.e2e
def test_the_real_site_starts_from_the_rendered_configuration(rendered: Path, tmp_path: Path) -> None:
    import socket
    import time

    import httpx

    folder = rendered / "biblioteket"
    config = json.loads((folder / "etc/odrift/site.json").read_text(encoding="utf-8"))
    assert config["db"] == "/var/lib/odrift/site.sqlite3"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # The rendered file as it is; only the places that exist on a box are moved to this test's folder,
    # and the feed to a closed local port (the test never reaches outside this machine).
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "services.crisis_site",
            "--config",
            str(folder / "etc/odrift/site.json"),
            "--db",
            str(tmp_path / "site.sqlite3"),
            "--content",
            str(folder / "etc/odrift/content.yaml"),
            "--feed",
            "http://127.0.0.1:9/api/cap.xml",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/", timeout=1.0)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the site did not answer"
                time.sleep(0.1)
        assert page.status_code == 200
        assert "Sjöbacka kommun" in page.text and "Norrbyskolan, idrottshallen" in page.text
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _tool(name: str) -> str:
    path = shutil.which(name) or (f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None)
    if path is None or os.geteuid() != 0:
        require_tier("netns", f"{name} is not installed here, or not root" if path is None else "not root")
    assert path is not None
    return path


@pytest.mark.e2e
def test_nftables_accepts_the_rendered_rules(rendered: Path) -> None:
    nft = _tool("nft")
    result = subprocess.run(
        [nft, "-c", "-f", str(rendered / "biblioteket" / "etc/nftables.d/odrift.nft")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.e2e
def test_the_gate_fills_and_empties_the_rendered_firewalls_island_mode_chain(rendered: Path) -> None:
    """What odrift-gate does on a box, against the rendered file loaded in a namespace of its own."""
    nft = _tool("nft")
    namespace = f"odrtest{NET_BASE}-render-gate"
    subprocess.run(["ip", "netns", "add", namespace], check=True)
    try:
        in_ns = ("ip", "netns", "exec", namespace, nft)
        rules = rendered / "biblioteket" / "etc/nftables.d/odrift.nft"
        subprocess.run([*in_ns, "-f", str(rules)], check=True)

        def chain(name: str = "island_mode") -> str:
            listing = subprocess.run(
                [*in_ns, "list", "chain", "inet", "odrift", name], capture_output=True, text=True
            )
            assert listing.returncode == 0, listing.stderr
            return listing.stdout

        forward = subprocess.run(
            [*in_ns, "list", "chain", "inet", "odrift", "forward"], capture_output=True, text=True
        )
        assert "jump island_mode" in forward.stdout
        assert "reject" not in chain(), "open while the uplink works"
        prerouting = subprocess.run(
            [*in_ns, "list", "chain", "inet", "odrift", "prerouting"], capture_output=True, text=True
        )
        assert "tcp dport 80" in prerouting.stdout and "jump island_mode_nat" in prerouting.stdout
        unit = (rendered / "biblioteket" / "etc/systemd/system/odrift-gate.service").read_text()
        portal = unit.split("--portal ", 1)[1].split()[0]
        conntrack = ("ip", "netns", "exec", namespace, "conntrack")
        asyncio.run(Gate(in_ns, portal=portal, conntrack=conntrack).set(True))
        assert "tcp reject with tcp reset" in chain() and "reject with icmpx admin-prohibited" in chain()
        assert f"dnat ip to {portal}" in chain("island_mode_nat")
        asyncio.run(Gate(in_ns, portal=portal, conntrack=conntrack).set(False))
        assert "reject" not in chain() and "dnat" not in chain("island_mode_nat")

        # Island mode closes it only once the rendered counter of the uplink's packets has stood still.
        # The firewall loaded again while closed (`systemctl reload nftables`: the chain empty, the counter
        # at zero) is filled again on the next round, without opening in between.
        async def follow() -> list[bool | None]:
            gate, seen = Gate(in_ns), []
            # The quiet is timed from the cut (0.0), before the resolver says island mode (1.0).
            for island_mode, now in ((False, 0.0), (True, 1.0), (True, 2.0)):
                await gate.follow(island_mode, now)
                seen.append(gate.closed)
            subprocess.run([*in_ns, "-f", str(rules)], check=True)
            assert "reject" not in chain(), "loading the firewall again empties the chain"
            await gate.follow(True, 2.25)
            assert "tcp reject with tcp reset" in chain(), "filled again"
            seen.append(gate.closed)
            await gate.follow(False, 3.0)
            return [*seen, gate.closed]

        assert asyncio.run(follow()) == [False, False, True, True, False]
        assert "reject" not in chain()
    finally:
        subprocess.run(["ip", "netns", "delete", namespace], check=False)


@pytest.mark.e2e
def test_dnsmasq_accepts_the_rendered_dhcp_configuration(rendered: Path, tmp_path: Path) -> None:
    dnsmasq = _tool("dnsmasq")
    conf = (rendered / "biblioteket" / "etc/dnsmasq.d/odrift.conf").read_text(encoding="utf-8")
    (tmp_path / "odrift.conf").write_text(conf, encoding="utf-8")
    result = subprocess.run(
        [dnsmasq, "--test", f"--conf-file={tmp_path / 'odrift.conf'}"], capture_output=True, text=True
    )
    assert result.returncode == 0 and "syntax check OK" in (result.stdout + result.stderr), result.stderr


def test_a_region_island_gets_its_nats_server_and_replicator_from_its_share_of_the_credentials(
    rendered: Path, tmp_path: Path
) -> None:
    """The administrator's `setup` makes the region's secrets; the box gets its own share only, and the
    rendered units' commands turn it into a configuration the real nats-server accepts."""
    island = rendered / "biblioteket"
    units = island / "etc/systemd/system"
    nats_unit = (units / "odrift-nats.service").read_text()
    replicator_unit = (units / "odrift-replicator.service").read_text()
    assert "Restart=on-failure" in nats_unit and "DynamicUser=yes" in replicator_unit
    region_file = island / "etc/odrift/region.yaml"
    region = yaml.safe_load(region_file.read_text())
    assert region["hub"][0]["host"] == "nats-hub.kommun.example" and region["hub"][0]["leaf_port"] == 7422
    assert [i["name"] for i in region["islands"]] == ["biblioteket", "norrbyskolan"]

    admin, box = tmp_path / "admin", tmp_path / "box"
    region_cli = [sys.executable, "-m", "services.region"]
    subprocess.run([*region_cli, "setup", str(region_file), str(admin)], check=True, capture_output=True)

    def command(unit: str, key: str) -> list[str]:
        line = next(line for line in unit.splitlines() if line.startswith(f"{key}="))
        # The unit's paths with the box's folders moved under this test's box.
        argv = line.split("=", 1)[1].replace("/var/lib/odrift/region", str(box)).split()
        return [sys.executable if argv[0].endswith("/python") else argv[0], *argv[1:]]

    configure = [
        a.replace("/etc/odrift/region.yaml", str(region_file)) for a in command(nats_unit, "ExecStartPre")
    ]
    refused = subprocess.run(configure, capture_output=True, text=True)
    assert refused.returncode != 0 and "copy this island's share" in refused.stderr

    share = ["ca.pem", "islands/biblioteket.seed", "islands/biblioteket.client.password"]
    for name in share:
        (box / "credentials" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(admin / "credentials" / name, box / "credentials" / name)
    subprocess.run(configure, check=True, capture_output=True)
    server = command(nats_unit, "ExecStart")
    assert server[0].endswith("/nats-server")
    checked = subprocess.run([binary(), *server[1:], "-t"], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    assert not (box / "credentials" / "islands" / "norrbyskolan.seed").exists()
    assert "islands/biblioteket.seed" in (island / "SUMMARY.md").read_text()
    assert "odrift-nats odrift-replicator" in (island / "SUMMARY.md").read_text()
