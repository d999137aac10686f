"""`island up --site` and `island scenario run --site`: what is rehearsed is what is deployed.

The example site is rendered as `island deploy render` renders it, started on netns from those
files on the site file's own addresses, asked as a resident's phone would ask, and the full-outage
and phones scenarios run against it. One island for the module.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from island_test_helpers import IslandCLI, in_namespace, island_cli, island_net
from tiers import pebble_reason, require_tier

from island.backends import _netns
from island.backends.netns import NetnsBackend
from island.deploy.check import Box, check_certificate
from island.deploy.rehearsal import prepare
from island.deploy.render import render_site
from island.deploy.site import load_site
from island.state import StateDir

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "island.site.yaml"


def _tree(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): p.read_text() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_the_rehearsal_runs_the_deployed_files_differing_only_in_their_root(tmp_path: Path) -> None:
    site = load_site(EXAMPLE)
    render_site(site, tmp_path / "deployed")
    rehearsal = prepare(EXAMPLE, site, tmp_path / "data")
    rehearsed = _tree(Path(rehearsal.root))
    deployed = _tree(tmp_path / "deployed" / "biblioteket")
    assert {path: text.replace(rehearsal.root, "") for path, text in rehearsed.items()} == deployed
    config = json.loads(rehearsed["etc/odrift/site.json"])
    assert config["db"] == f"{rehearsal.root}/var/lib/odrift/site.sqlite3"
    assert Path(rehearsal.root, "var/lib/odrift").is_dir(), "the data folder a box's systemd would make"
    # The units start exactly what the rehearsal starts: the same module and arguments, root aside.
    unit = deployed["etc/systemd/system/odrift-site.service"]
    assert " ".join(["-m services.crisis_site", *rehearsal.site_args]).replace(rehearsal.root, "") in unit
    resolver_unit = deployed["etc/systemd/system/odrift-resolver.service"]
    assert (
        " ".join(["-m services.resolver", *rehearsal.resolver_args]).replace(rehearsal.root, "")
        in resolver_unit
    )


def test_a_mistake_in_the_site_file_names_its_line_and_nothing_starts(tmp_path: Path) -> None:
    bad = tmp_path / "island.site.yaml"
    bad.write_text(EXAMPLE.read_text().replace("network: 10.44.0.0/22", "network: 10.44.0.0/33"))
    cli = IslandCLI(tmp_path / "state", island_net(31))
    for command in (
        ("up", "--site", str(bad), "--detach"),
        ("scenario", "run", "full-outage", "--site", str(bad)),
    ):
        done = cli.run(*command)
        assert done.returncode == 2, done.stdout + done.stderr
        assert f"{bad}:34: trygghetspunkter[0].wifi.network:" in done.stderr
        assert "nothing was started" in done.stderr
    assert not (tmp_path / "state" / "state.json").exists()


# On netns: the rendered files, the site file's addresses ---------------------------------------------

ASK = """
import dns.message, dns.query, dns.rcode
reply = dns.query.udp(dns.message.make_query({name!r}, "A"), {server!r}, timeout=3)
print(dns.rcode.to_text(reply.rcode()), ",".join(r.to_text() for a in reply.answer for r in a))
"""


PLAIN_PAGE = (
    "import httpx; print(httpx.get('http://krisinfo.kommun.example/', timeout=5, trust_env=False).text)"
)
HTTPS_PAGE = """
import ssl, httpx
context = ssl.create_default_context(cafile={ca!r})
print(httpx.get("https://krisinfo.kommun.example/", verify=context, timeout=5, trust_env=False).text)
"""


@pytest.fixture(scope="module")
def island(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IslandCLI]:
    require_tier("netns", _netns.unavailable_reason())
    cli = IslandCLI(tmp_path_factory.mktemp("rehearsal") / "state", island_net(32))
    up = cli.run("up", "--backend", "netns", "--site", str(EXAMPLE), "--detach")
    assert up.returncode == 0, up.stdout + up.stderr
    # It says what of the site file it honours and what stands in for the rest.
    for said in (
        "the box's address 10.44.0.1",
        "a phone at 10.44.0.99 on the Wi-Fi 10.44.0.0/22",
        "Not mapped",
        "HTTPS:           the certificate for krisinfo.kommun.example from the site file's certificate service",
        *(["HTTPS by name:   https://krisinfo.kommun.example/"] if pebble_reason() is None else []),
    ):
        assert said in up.stdout, up.stdout
    yield cli
    down = cli.run("down", "--purge", "--yes")
    assert down.returncode == 0, down.stderr
    prefix = NetnsBackend(StateDir(cli.state_dir)).prefix
    assert _netns.existing(prefix) == [], "island down left namespaces behind"


def _recorded(cli: IslandCLI) -> dict:
    return json.loads((cli.state_dir / "state.json").read_text())


@pytest.mark.e2e
def test_the_resolver_and_site_run_the_rendered_files(island: IslandCLI) -> None:
    recorded = _recorded(island)
    root = recorded["site"]["root"]
    processes = recorded["processes"]
    for name, config in (("resolver", "resolver.yaml"), ("site", "site.json")):
        cmdline = Path(f"/proc/{processes[name]['pid']}/cmdline").read_bytes().decode().split("\0")
        assert cmdline[cmdline.index("--config") + 1] == f"{root}/etc/odrift/{config}", cmdline
    status = island.status()
    assert status["crisis_name"] == "krisinfo.kommun.example"
    assert status["resolver"] == {"host": "10.44.0.1", "port": 53}
    assert status["site_file"] == {"file": str(EXAMPLE), "rendered": root}
    # An editor of the site file gets an account in the database the rendered site.json names.
    added = island.add_editor("anna", "ett långt lösenord för anna")
    assert added.returncode == 0, added.stderr
    assert f"({root}/var/lib/odrift/site.sqlite3)" in added.stdout


@pytest.mark.e2e
def test_a_phone_on_the_wifi_gets_the_site_files_island_and_outsiders_are_refused(island: IslandCLI) -> None:
    prefix = NetnsBackend(StateDir(island.state_dir)).prefix
    phone = prefix + "tpa"
    assert (
        in_namespace(phone, ASK.format(name="krisinfo.kommun.example", server="10.44.0.1"))
        == "NOERROR 10.44.0.1"
    )
    # The outside world through the stadsnät's resolvers of the site file (the simulated internet behind them).
    assert in_namespace(phone, ASK.format(name="www.bank.example", server="10.44.0.1")).startswith(
        "NOERROR 10.1."
    )
    # A stadsnät subscriber is not on the Wi-Fi: the box's resolver is no open resolver.
    home = in_namespace(prefix + "home", ASK.format(name="krisinfo.kommun.example", server="10.44.0.1"))
    assert home.startswith("REFUSED")
    page = in_namespace(
        phone,
        "import httpx; print(httpx.get('http://krisinfo.kommun.example/', timeout=5, trust_env=False).text)",
    )
    # The first page is the site file's: its municipality, its standing notice, its trygghetspunkter.
    for text in (
        "Sjöbacka kommun",
        "Här publicerar Sjöbacka kommun information",
        "Norrbyskolan, idrottshallen",
    ):
        assert text in page


@pytest.mark.e2e
def test_full_outage_and_phones_pass_against_the_rendered_island(island: IslandCLI, tmp_path: Path) -> None:
    run = island.run(
        "scenario",
        "run",
        "full-outage",
        "phones-join-wifi",
        "--site",
        str(EXAMPLE),
        "--out",
        str(tmp_path),
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr
    assert run.stdout.count("Verdict: PASSED") == 2
    assert "Using the island that is already up (backend: netns)" in run.stdout
    for name in ("full-outage", "phones-join-wifi"):
        journal = json.loads((tmp_path / name / "journal.json").read_text())
        assert journal["backend"] == "netns" and journal["operations"]
    require_tier("https", pebble_reason())
    assert "Not run:" not in run.stdout, "every probe runs, HTTPS by name included"
    # The rendered feed (https://www.kommun.example/...) is checked against the box's trust store too:
    # the municipality's message reaches the island (the first poll may precede the public CA).
    phone = NetnsBackend(StateDir(island.state_dir)).prefix + "tpa"
    deadline = time.monotonic() + 45
    while "Omfattande el- och teleavbrott" not in in_namespace(phone, PLAIN_PAGE):
        assert time.monotonic() < deadline, "the municipality's feed never reached the rehearsed island"
        time.sleep(2)
    outage = json.loads((tmp_path / "full-outage" / "journal.json").read_text())
    https = [o for o in outage["operations"] if o["probe"] == "crisis-page-https"]
    assert {o["phase"] for o in https} == {"before", "during", "after"}
    assert all(o["status"] == "ok" for o in https), [o["detail"] for o in https if o["status"] != "ok"]


@pytest.mark.e2e
def test_the_island_has_its_certificate_from_the_site_files_service_as_rendered(island: IslandCLI) -> None:
    require_tier("https", pebble_reason())
    root = Path(_recorded(island)["site"]["root"])
    config = json.loads((root / "etc/odrift/site.json").read_text())["tls"]
    # The rendered site.json is what got it: the service's address from the site file, the credential
    # where it names it (the municipality's, standing in for the installer's), the key and chain beside it.
    assert config["issuer_url"] == "https://certifikat.kommun.example/api/island-certificate"
    credential = Path(config["credential_file"])
    assert credential == root / "var/lib/odrift/tls/certificate-service.token"
    assert credential.stat().st_mode & 0o777 == 0o600
    tls = island.status()["tls"]
    assert tls["https"] == "on" and tls["renewal_error"] == "", tls
    assert tls["names"] == ["krisinfo.kommun.example"] and tls["days_left"] > 30, tls
    assert tls["certificate_file"] == f"{config['folder']}/island.pem"
    # A phone on the Wi-Fi opens the page by name over HTTPS, trusting only the simulated public CA.
    phone = NetnsBackend(StateDir(island.state_dir)).prefix + "tpa"
    page = in_namespace(phone, HTTPS_PAGE.format(ca=tls["ca_file"]))
    assert "Här publicerar Sjöbacka kommun information" in page
    # `island deploy check` reads the certificate from the rendered paths.
    (finding,) = check_certificate(Box(config_dir=root / "etc/odrift", data_dir=root / "var/lib/odrift"))
    assert finding.status == "ok" and finding.seen.startswith(f"{tls['days_left']} days left"), finding


# On local: the crisis name and the first page; loopback stands in for the rest -----------------------


@pytest.mark.e2e
def test_local_rehearses_the_site_files_name_and_first_page(tmp_path: Path) -> None:
    cli = island_cli(tmp_path, island_net(33))
    try:
        up = cli.run("up", "--site", str(EXAMPLE), "--detach")
        assert up.returncode == 0, up.stdout + up.stderr
        assert "Stand-ins:       loopback addresses" in up.stdout
        status = cli.status()
        assert status["crisis_name"] == "krisinfo.kommun.example"
        page = httpx.get(status["site"]["url"], timeout=5, trust_env=False).text
        assert "Här publicerar Sjöbacka kommun information" in page
        # HTTPS for the site file's crisis name: the simulator's own site asks the same certificate service.
        assert "HTTPS:           the simulator's own" in up.stdout
        if pebble_reason() is None:
            assert status["tls"]["https"] == "on" and status["tls"]["names"] == ["krisinfo.kommun.example"]
            # Kept where the box keeps it: the rendered data folder, beside the database add-editor writes.
            rendered = status["site_file"]["rendered"]
            assert status["tls"]["certificate_file"] == f"{rendered}/var/lib/odrift/tls/island.pem"
    finally:
        cli.run("down", "--purge", "--yes")
