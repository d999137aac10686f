"""HTTPS by the usual name, end to end: Pebble in the simulated internet, the island's certificate
from the municipality, served through a cut; curl with an HSTS cache as a phone that visited before."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import dns.message
import dns.query
import httpx
import pytest
from acme import crypto_util
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from island_test_helpers import IslandCLI, curl_trusting, island_cli, island_net, served_serial
from tiers import pebble_reason, require_tier

from services.tls.certificate import key_pem
from services.tls.small_ca import SmallCA
from services.upstream.islands import CREDENTIAL_FILE

pytestmark = pytest.mark.e2e

# Far above the other test islands' networks (bases sit next to each other).
NET = island_net(100)
NAME = "krisinfo.kommun.example"


@pytest.fixture(scope="module")
def island(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IslandCLI]:
    require_tier("https", pebble_reason())
    cli = island_cli(tmp_path_factory.mktemp("island"), NET)
    cli.run("up", "--detach", check=True)
    try:
        yield cli
    finally:
        cli.run("down")


def resolve(status: dict, name: str) -> str:
    """The name's address as a phone on the island gets it: from the island resolver."""
    resolver = status["resolver"]
    answer = dns.query.udp(
        dns.message.make_query(name, "A"),
        resolver["host"],
        port=resolver["port"],
        timeout=5,
        source=f"{NET}.4.10",
    )
    return next(rr.address for rrset in answer.answer for rr in rrset if rrset.rdtype == 1)


def curl(status: dict, *args: str, names: tuple[str, ...] = (NAME,)) -> subprocess.CompletedProcess[str]:
    """curl as a phone: names resolved by the island resolver, trusting only the simulated public CA."""
    https, http = _ports(status)
    pins = [
        arg for n in names for p in (https, http) for arg in ("--resolve", f"{n}:{p}:{resolve(status, n)}")
    ]
    return curl_trusting(status["tls"]["ca_file"], *pins, *args)


def _ports(status: dict) -> tuple[int, int]:
    url = status["site"]["https_url"]
    https = int(url.rstrip("/").rsplit(":", 1)[1]) if url.count(":") == 2 else 443
    return https, 80 if https == 443 else 8080


def test_status_says_the_certificate_its_days_left_and_the_public_ca(island: IslandCLI) -> None:
    status = island.status()
    https, _ = _ports(status)
    assert status["site"]["https_url"] == (f"https://{NAME}/" if https == 443 else f"https://{NAME}:{https}/")
    tls = status["tls"]
    assert Path(tls["ca_file"]).read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert (
        tls["https"] == "on" and tls["names"] == [NAME] and tls["issuer"].startswith("Pebble Intermediate CA")
    )
    assert tls["days_left"] > 365 and tls["not_after"][:4].isdigit()
    text = island.run("status").stdout
    assert f"HTTPS on, certificate for {NAME} from Pebble Intermediate CA" in text
    assert f"{tls['days_left']} days left" in text


def test_the_municipality_is_https_only_with_hsts_for_its_subdomains(island: IslandCLI) -> None:
    status = island.status()
    https, _ = _ports(status)
    page = curl(status, "--include", f"https://kommun.example:{https}/", names=("kommun.example",))
    assert page.returncode == 0, page.stderr
    assert "strict-transport-security: max-age=31536000; includeSubDomains" in page.stdout


def test_a_phone_that_learnt_hsts_gets_the_islands_page_by_https_while_cut(
    island: IslandCLI, tmp_path: Path
) -> None:
    status = island.status()
    https, http = _ports(status)
    hsts = tmp_path / "hsts.txt"
    learnt = curl(status, "--hsts", str(hsts), f"https://kommun.example:{https}/", names=("kommun.example",))
    assert learnt.returncode == 0, learnt.stderr
    assert ".kommun.example" in hsts.read_text(), "curl did not keep the municipality's HSTS policy"
    island.run("uplink", "cut", check=True)
    try:
        # Typed as http://; the HSTS cache makes it https:// on the island's certificate (curl keeps the port,
        # so the pinned addresses cover both).
        page = curl(
            status,
            "--hsts",
            str(hsts),
            "--write-out",
            "\n%{url_effective} %{http_code} %{ssl_verify_result}",
            f"http://{NAME}:{http}/" if https != 443 else f"http://{NAME}/",
        )
        assert page.returncode == 0, page.stderr
        body, _, outcome = page.stdout.rpartition("\n")
        assert outcome.startswith("https://") and outcome.endswith(" 200 0"), outcome
        assert "Krisinformation" in body
        assert "HTTPS on" in island.run("status").stdout
    finally:
        island.run("uplink", "restore", check=True)


def test_install_cert_refuses_a_certificate_from_another_ca_and_keeps_serving(
    island: IslandCLI, tmp_path: Path
) -> None:
    before = island.status()["tls"]
    cert, key = SmallCA.make("Not the public CA").issue(tmp_path, [NAME])
    refused = island.run("site", "install-cert", str(cert), str(key))
    assert refused.returncode == 2
    assert (
        f"refused, nothing was replaced: {cert}: does not chain to a trusted root in {before['ca_file']}"
        in (refused.stderr)
    )
    after = island.status()["tls"]
    assert after["not_after"] == before["not_after"] and after["https"] == "on"


ISLANDS_CREDENTIAL = object()  # ask_municipality's default: the credential in the island's data folder


def ask_municipality(
    status: dict, names: list[str], key: ec.EllipticCurvePrivateKey, credential: object = ISLANDS_CREDENTIAL
) -> httpx.Response:
    """The municipality's certificate service, asked as an island asks it (a CSR, the key kept here),
    with the island's credential, another one (a string), or none (None)."""
    _, http = _ports(status)
    if credential is ISLANDS_CREDENTIAL:
        credential = (Path(status["tls"]["certificate_file"]).parent / CREDENTIAL_FILE).read_text().strip()
    headers = {"host": "www.kommun.example"}
    if credential is not None:
        headers["authorization"] = f"Bearer {credential}"
    return httpx.post(
        f"http://{NET}.1.1:{http}/api/island-certificate",
        content=crypto_util.make_csr(key_pem(key), names),
        headers=headers,
        timeout=60,
    )


def test_the_certificate_service_signs_only_for_its_islands_and_their_own_name(island: IslandCLI) -> None:
    status = island.status()
    credential = Path(status["tls"]["certificate_file"]).parent / CREDENTIAL_FILE
    assert credential.stat().st_mode & 0o777 == 0o600, "the island's credential is readable by its owner only"
    key = ec.generate_private_key(ec.SECP256R1())
    anonymous = ask_municipality(status, [NAME], key, credential=None)
    assert anonymous.status_code == 401
    assert anonymous.text.startswith("refused: no island credential; send the island's token")
    stranger = ask_municipality(status, [NAME], key, credential="not-a-token-the-municipality-gave")
    assert stranger.status_code == 403
    assert stranger.text == "refused: the credential is not one this service gave to an island"
    greedy = ask_municipality(status, [NAME, "www.kommun.example"], key)
    assert greedy.status_code == 403
    assert f"may have a certificate for {NAME} only, not www.kommun.example" in greedy.text
    outside = ask_municipality(status, ["www.bank.example"], key)
    assert outside.status_code == 400 and "only names under kommun.example" in outside.text


def test_install_cert_takes_a_good_certificate_and_the_site_serves_it(
    island: IslandCLI, tmp_path: Path
) -> None:
    status = island.status()
    key = ec.generate_private_key(ec.SECP256R1())
    issued = ask_municipality(status, [NAME], key)
    assert issued.status_code == 200, issued.text
    (tmp_path / "chain.pem").write_bytes(issued.content)
    (tmp_path / "key.pem").write_bytes(key_pem(key))
    done = island.run("site", "install-cert", str(tmp_path / "chain.pem"), str(tmp_path / "key.pem"))
    assert done.returncode == 0, done.stderr
    wanted = x509.load_pem_x509_certificate(issued.content).serial_number
    deadline = time.monotonic() + 10
    while served_serial(status["tls"]["ca_file"], resolve(status, NAME), _ports(status)[0]) != wanted:
        assert time.monotonic() < deadline, "the installed certificate is not served"
        time.sleep(0.2)


def test_full_outage_checks_the_crisis_page_over_https_in_every_phase(
    island: IslandCLI, tmp_path: Path
) -> None:
    run = island.run("scenario", "run", "full-outage", "--out", str(tmp_path), timeout=180)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Not run" not in run.stdout
    journal = json.loads((tmp_path / "full-outage" / "journal.json").read_text())
    https = [op for op in journal["operations"] if op["probe"] == "crisis-page-https"]
    for phase in ("before", "during", "after"):
        ops = [op for op in https if op["phase"] == phase]
        assert len(ops) >= 10 and all(op["status"] == "ok" for op in ops), phase


def test_a_certificate_that_does_not_verify_fails_the_https_probe_with_the_reason(
    island: IslandCLI, tmp_path: Path
) -> None:
    # The bank's name is not on the municipality's certificate, which its web server presents.
    scenario = tmp_path / "bank-https.yaml"
    scenario.write_text(
        "title: The bank over HTTPS\n"
        "probes:\n"
        "  - name: bank-https\n"
        '    http: {url: "https://www.bank.example/", status: 200}\n'
        "phases:\n"
        "  - name: connected\n"
        "    duration: 1\n"
        "    expect:\n"
        "      bank-https: {min_success: 1.0}\n"
    )
    run = island.run("scenario", "run", str(scenario), "--out", str(tmp_path / "out"), timeout=120)
    assert run.returncode != 0 and "FAILED" in run.stdout
    journal = json.loads((tmp_path / "out" / "bank-https" / "journal.json").read_text())
    details = {op["detail"] for op in journal["operations"]}
    assert all(op["status"] == "fail" for op in journal["operations"])
    assert any(
        d.startswith("TLS: the certificate does not verify: Hostname mismatch") and "www.bank.example" in d
        for d in details
    ), details
