"""`island deploy check` on a box: real resolver and site started from the rendered configuration."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from island.deploy.check import (
    Box,
    Finding,
    check_backup,
    check_certificate,
    check_commands,
    check_sign_in_sheet,
    expected_units,
    is_local_address,
)
from island.deploy.render import render_site
from island.deploy.site import load_site
from services.tls.certificate import write_pair
from services.tls.small_ca import SmallCA

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "island.site.yaml"
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def _free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(check: object, proc: subprocess.Popen[str], what: str) -> None:
    deadline = time.monotonic() + 20
    while True:
        assert proc.poll() is None, f"{what} exited: {proc.stderr.read() if proc.stderr else ''}"
        try:
            if check():  # type: ignore[operator]
                return
        except (OSError, httpx.TransportError):
            pass
        assert time.monotonic() < deadline, f"{what} did not come up"
        time.sleep(0.1)


@pytest.fixture()
def box(tmp_path: Path) -> Iterator[tuple[Path, Path, str]]:
    """The rendered files of one island, its resolver and site running on loopback."""
    rendered = tmp_path / "rendered"
    render_site(load_site(EXAMPLE), rendered)
    etc = rendered / "biblioteket" / "etc"
    config = yaml.safe_load((etc / "odrift/resolver.yaml").read_text(encoding="utf-8"))
    dns_port = _free_port(socket.SOCK_DGRAM)
    # Only where it listens and where it forwards change on this test machine: nothing leaves it.
    config["listen"] = {"host": "127.0.0.1", "port": dns_port}
    config["upstreams"] = [{"host": "127.0.0.1", "port": 9}]
    config.pop("metrics", None)
    (etc / "odrift/resolver.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    data = tmp_path / "data"
    data.mkdir()
    web_port = _free_port()
    resolver = subprocess.Popen(
        [sys.executable, "-m", "services.resolver", "--config", str(etc / "odrift/resolver.yaml")],
        cwd=ROOT,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    site = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "services.crisis_site",
            "--config",
            str(etc / "odrift/site.json"),
            "--db",
            str(data / "site.sqlite3"),
            "--content",
            str(etc / "odrift/content.yaml"),
            "--feed",
            "http://127.0.0.1:9/api/cap.xml",
            "--host",
            "127.0.0.1",
            "--port",
            str(web_port),
        ],
        cwd=ROOT,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{web_port}/"
        _wait(lambda: httpx.get(url + "healthz", timeout=1).status_code == 200, site, "the site")
        _wait(lambda: _answers(dns_port), resolver, "the resolver")
        yield etc, data, url
    finally:
        for proc in (resolver, site):
            proc.terminate()
            proc.wait(timeout=10)


def _answers(port: int) -> bool:
    import dns.message
    import dns.query

    reply = dns.query.udp(
        dns.message.make_query("krisinfo.kommun.example", "A"), "127.0.0.1", port=port, timeout=1
    )
    return bool(reply.answer)


def _check(etc: Path, data: Path, url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "island",
            "deploy",
            "check",
            "--config-dir",
            str(etc / "odrift"),
            "--data-dir",
            str(data),
            "--dhcp-config",
            str(etc / "dnsmasq.d/odrift.conf"),
            "--resolver",
            "127.0.0.1",
            "--site-url",
            url,
            *extra,
        ],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_reports_what_runs_and_what_to_do_next(box: tuple[Path, Path, str]) -> None:
    etc, data, url = box
    result = _check(etc, data, url, "--json")
    report = json.loads(result.stdout)
    by_name = {c["check"]: c for c in report["checks"]}
    assert by_name["resolver answers the crisis name"]["status"] == "ok"
    assert by_name["resolver refuses outsiders"]["status"] == "ok"
    assert by_name["crisis page"]["status"] == "ok", by_name["crisis page"]
    assert by_name["DHCP option 114"]["seen"] == "https://krisinfo.kommun.example/api/captive"
    assert by_name["certificate"]["status"] == "warn" and "HTTP only" in by_name["certificate"]["seen"]
    assert (
        by_name["last backup"]["status"] == "warn" and "island backup" in by_name["last backup"]["next_step"]
    )
    # No systemd units run on a test machine: each is a failure that says how to start it.
    unit = by_name["service odrift-site"]
    assert unit["status"] in ("fail", "warn") and "odrift-site" in unit["next_step"]
    assert result.returncode == (1 if not report["ok"] else 0)

    made = subprocess.run(
        [sys.executable, "-m", "island", "backup", str(data.parent / "backups"), "--data", str(data)],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    text = _check(etc, data, url).stdout
    assert "OK    last backup: 0.0 days ago" in text
    assert "checks:" in text.splitlines()[-1]


def test_a_stopped_resolver_is_a_failure_with_the_next_step(tmp_path: Path) -> None:
    rendered = tmp_path / "rendered"
    render_site(load_site(EXAMPLE), rendered)
    etc = rendered / "biblioteket" / "etc"
    config = yaml.safe_load((etc / "odrift/resolver.yaml").read_text(encoding="utf-8"))
    config["listen"] = {"host": "127.0.0.1", "port": _free_port(socket.SOCK_DGRAM)}  # nothing listens there
    (etc / "odrift/resolver.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    result = _check(etc, tmp_path, f"http://127.0.0.1:{_free_port()}/")
    assert result.returncode == 1
    assert "FAIL  resolver answers the crisis name" in result.stdout
    assert "next: sudo systemctl restart odrift-resolver" in result.stdout
    assert "FAIL  crisis page" in result.stdout


def test_a_box_rendered_without_island_mode_is_told_to_render_again(tmp_path: Path) -> None:
    render_site(load_site(EXAMPLE), tmp_path)
    etc = tmp_path / "biblioteket" / "etc" / "odrift"
    (finding,) = check_sign_in_sheet(Box(config_dir=etc))
    assert finding.status == "ok" and "10.44.0.1" in finding.seen
    # The files an older version rendered: no island mode, no captive portal.
    config = yaml.safe_load((etc / "resolver.yaml").read_text(encoding="utf-8"))
    del config["island_mode"]
    (etc / "resolver.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    (finding,) = check_sign_in_sheet(Box(config_dir=etc))
    assert finding.status == "warn" and "island_mode in resolver.yaml" in finding.seen
    assert "render the site file again" in finding.next_step


def test_the_check_talks_only_to_this_machine() -> None:
    assert is_local_address("127.0.0.1")
    assert not is_local_address("192.0.2.1")  # TEST-NET-1: never an address of this machine


def test_certificate_and_backup_ages_are_judged(tmp_path: Path) -> None:
    box = Box(data_dir=tmp_path)
    assert check_certificate(box)[0].status == "warn"
    assert check_backup(box)[0] == Finding(
        "last backup", "warn", "never", f"island backup --data {tmp_path} /var/backups/odrift"
    )
    (tmp_path / ".last-backup.json").write_text(
        json.dumps({"file": "b.tar.gz", "time": time.time() - 10 * 86400})
    )
    assert check_backup(box)[0].status == "warn"


def test_the_certificate_is_read_where_the_rendered_site_json_keeps_it(tmp_path: Path) -> None:
    site = load_site(ROOT / "examples" / "island.site.yaml")
    render_site(site, tmp_path / "out")
    etc = tmp_path / "out" / "biblioteket" / "etc" / "odrift"
    folder = tmp_path / "tls"
    settings = json.loads((etc / "site.json").read_text())
    assert settings["tls"]["folder"] == "/var/lib/odrift/tls"  # as rendered; moved here for the test
    settings["tls"]["folder"] = str(folder)
    (etc / "site.json").write_text(json.dumps(settings))
    box = Box(config_dir=etc, data_dir=tmp_path / "elsewhere")
    (finding,) = check_certificate(box)
    assert finding.status == "warn" and f"none at {folder}/island.pem" in finding.seen
    leaf = SmallCA.make("Simulated public CA").leaf(["krisinfo.kommun.example"], days=60)
    write_pair(folder, leaf.cert_pem, leaf.key_pem)
    (finding,) = check_certificate(box)
    assert finding.status == "ok", finding
    assert finding.seen.startswith("59 days left") and "krisinfo.kommun.example" in finding.seen
    # Served, but its renewal fails: said while there is time, with what to look at.
    (folder / "status.json").write_text(json.dumps({"renewal_error": "the municipality refused: 403 …"}))
    (finding,) = check_certificate(box)
    assert finding.status == "warn" and "renewal failing: the municipality refused: 403" in finding.seen
    assert "credential" in finding.next_step


def test_the_check_expects_every_unit_the_render_installed(tmp_path: Path) -> None:
    """The gate is checked like the resolver and the site; an island in a region (the example site names a
    hub) also runs nats and the replicator."""
    rendered = tmp_path / "rendered"
    render_site(load_site(EXAMPLE), rendered)
    etc = rendered / "biblioteket" / "etc" / "odrift"
    units = expected_units(Box(config_dir=etc))
    assert set(units) == {
        "odrift-resolver",
        "odrift-site",
        "odrift-gate",
        "odrift-nats",
        "odrift-replicator",
        "dnsmasq",
    }
    for unit in set(units) - {"dnsmasq"}:
        assert (etc.parent / "systemd/system" / f"{unit}.service").exists(), unit
    (etc / "region.yaml").unlink()  # an island on its own
    assert "odrift-nats" not in expected_units(Box(config_dir=etc))
    assert expected_units(Box(config_dir=etc, units=("odrift-site",))) == ("odrift-site",)


def test_each_command_the_units_call_is_checked_and_a_missing_one_named_with_its_package(
    tmp_path: Path,
) -> None:
    rendered = tmp_path / "rendered"
    render_site(load_site(EXAMPLE), rendered)  # an island in a region: nats-server too
    etc = rendered / "biblioteket" / "etc" / "odrift"
    nothing = tmp_path / "empty-bin"
    nothing.mkdir()
    missing = {f.check: f for f in check_commands(Box(config_dir=etc, path=str(nothing), venv=nothing))}
    assert {
        name: (f.status, f.seen, f.next_step) for name, f in missing.items() if name != "command nats-server"
    } == {
        "command nft": ("fail", "not installed", "sudo apt-get install nftables"),
        "command dnsmasq": ("fail", "not installed", "sudo apt-get install dnsmasq"),
        "command conntrack": (  # the gate still closes
            "warn",
            "not installed: checks a phone sent into a cut before the gate closed wait it out",
            "sudo apt-get install conntrack",
        ),
    }
    assert (
        missing["command nats-server"].status == "fail"
        and "wheelhouse" in missing["command nats-server"].next_step
    )
    # This machine has them all (.ci/run installs the Debian packages; the venv has the nats-server wheel).
    here = check_commands(Box(config_dir=etc, venv=Path(sys.executable).parent.parent))
    assert all(f.status == "ok" for f in here), here
