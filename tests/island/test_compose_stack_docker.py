"""The docker tier: build the image, run the island's compose stack on a real engine, cut it, bring it down.

What a person does: `island up --backend compose`, open the crisis page from the host,
`dig` the island resolver on its host port, cut the uplink, run the full-outage scenario,
`island down` — and nothing of the stack is left on the engine.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import dns.message
import dns.query
import dns.rcode
import httpx
import pytest
from cryptography import x509
from docker_test_helpers import (
    DOCKER_NET,
    HOST,
    PROJECT,
    ROOT,
    compose_cli,
    docker,
    progress,
    project_objects,
    remove_project,
    require_docker,
)
from island_test_helpers import NET_BASE, IslandCLI, curl_trusting, island_net, served_serial
from test_bundle_e2e import install_offline, offline_env
from tiers import require_tier

pytestmark = pytest.mark.e2e

SCENARIO = ROOT / "scenarios" / "full-outage.yaml"
PHONES = ROOT / "scenarios" / "phones-join-wifi.yaml"


@pytest.fixture(scope="module")
def base() -> str:
    image = require_docker()
    remove_project()
    return image


def ask(name: str, tcp: bool = False, timeout: float = 5.0) -> tuple[dns.message.Message, float]:
    """dnspython, from the host, to the island resolver's published port."""
    query = dns.message.make_query(name, "A")
    started = time.monotonic()
    send = dns.query.tcp if tcp else dns.query.udp
    return send(query, HOST, port=5300, timeout=timeout), time.monotonic() - started


def addresses(answer: dns.message.Message) -> list[str]:
    return [rr.address for rrset in answer.answer for rr in rrset if rrset.rdtype == 1]


COMPOSE_V1, COMPOSE_V2 = ["docker-compose"], ["docker", "compose"]


def _answers(command: list[str]) -> str | None:
    try:
        done = subprocess.run([*command, "version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def test_both_compose_versions_are_here_where_the_tier_is_required() -> None:
    """Users have `docker compose` (v2); Debian 12 has docker-compose 1.29: CI proves both."""
    found = {"v1": _answers(COMPOSE_V1), "v2": _answers(COMPOSE_V2)}
    missing = [name for name, version in found.items() if version is None]
    require_tier("docker", f"compose {', '.join(missing)} is not installed here" if missing else None)
    assert "version 1.29" in (found["v1"] or "") or "version 1." in (found["v1"] or ""), found["v1"]
    assert "v2." in (found["v2"] or ""), found["v2"]


def test_compose_file_is_valid_for_the_compose_found_here(base: str, tmp_path: Path) -> None:
    cli = compose_cli(tmp_path, base)
    for command in (COMPOSE_V1, COMPOSE_V2):
        if _answers(command) is None:
            continue
        checked = subprocess.run(
            [*command, "--file", str(ROOT / "docker-compose.yml"), "config"],
            env=cli.env(),
            capture_output=True,
            text=True,
        )
        assert checked.returncode == 0, checked.stderr
        assert f"{DOCKER_NET}.3.1" in checked.stdout and f"{HOST}" in checked.stdout


def test_a_taken_host_port_is_named_before_anything_starts(base: str, tmp_path: Path) -> None:
    cli = compose_cli(tmp_path, base, ISLAND_COMPOSE_PROJECT=f"{PROJECT}-taken")
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind((HOST, 8080))
        squatter.listen()
        run = cli.run("up", "--backend", "compose", "--detach")
    assert run.returncode == 3, run.stdout + run.stderr
    assert f"port 8080/tcp on {HOST} on the host is already in use" in run.stderr
    assert "ISLAND_HTTP_PORT=8081" in run.stderr
    assert project_objects(f"{PROJECT}-taken") == {"containers": [], "networks": [], "volumes": []}


def test_scenario_run_starts_the_stack_passes_and_removes_it(base: str, tmp_path: Path) -> None:
    """The whole promise, as the README says it: one command on a machine with Docker.

    The phones scenario runs on the same stack (one `scenario run`, two files): every OS's check from
    the resident's container, the joins simulated (Docker hands out the addresses, not DHCP).
    """
    cli = compose_cli(tmp_path / "state", base)
    progress(
        "island scenario run full-outage phones-join-wifi --backend compose (builds the image the first time)"
    )
    run = cli.run(
        "scenario",
        "run",
        str(SCENARIO),
        str(PHONES),
        "--backend",
        "compose",
        "--out",
        str(tmp_path / "out"),
        timeout=900,
    )
    progress(f"scenario run exited {run.returncode}")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Starting the island (backend: compose)" in run.stdout
    assert "started client" in run.stdout
    assert run.stdout.count("Verdict: PASSED") == 2 and "All scenarios passed (2 run)" in run.stdout
    phones = json.loads((tmp_path / "out" / "phones-join-wifi" / "journal.json").read_text())
    for os_name in ("android", "apple", "windows", "firefox", "networkmanager"):
        verdicts = [op["detail"].split()[0] for op in phones["operations"] if op["probe"] == os_name]
        assert verdicts[0] == "online" and "portal" in verdicts and verdicts[-1] == "online", (
            os_name,
            verdicts,
        )
    assert "DHCP join: simulated" in run.stdout
    assert 'No phone saw "no internet" at any point of the cut.' in run.stdout
    journal = json.loads((tmp_path / "out" / "full-outage" / "journal.json").read_text())
    assert journal["backend"] == "compose"
    during = [op for op in journal["operations"] if op["phase"] == "during" and op["probe"] == "crisis-page"]
    assert len(during) >= 10 and all(op["status"] == "ok" for op in during)
    assert "Not run" not in run.stdout, "HTTPS is on in the stack: its probes run"
    for phase in ("before", "during", "after"):
        https = [
            op for op in journal["operations"] if op["phase"] == phase and op["probe"] == "crisis-page-https"
        ]
        assert len(https) >= 10 and all(op["status"] == "ok" for op in https), phase
    cut_at = next(e["t"] for e in journal["events"] if e["kind"] == "fault-on")
    outside = [
        op
        for op in journal["operations"]
        if op["phase"] == "during" and op["probe"] == "outside-dns" and op["t"] >= cut_at
    ]
    # The bank was asked before the cut: the island resolver answers it from its cache all through
    # the cut, without waiting on the dead uplink (the cut itself is checked name by name below).
    assert len(outside) >= 3 and all(op["status"] == "ok" for op in outside), (
        "names seen before stay answered"
    )
    assert max(op["latency_ms"] for op in outside) < 500, "cached answers never wait on the cut uplink"
    assert project_objects() == {"containers": [], "networks": [], "volumes": []}, (
        "the run stops the stack it started"
    )


def test_docker_compose_1_29_brings_the_stack_up_and_down_too(base: str, tmp_path: Path) -> None:
    """The rest of the tier uses `docker compose` (v2) when it answers; this test, Debian's 1.29."""
    if _answers(COMPOSE_V1) is None:
        require_tier("docker", "docker-compose (1.29) is not installed here")
    cli = compose_cli(tmp_path / "state", base, ISLAND_COMPOSE="docker-compose")
    progress("island up --backend compose with docker-compose 1.29")
    up = cli.run("up", "--backend", "compose", "--detach", timeout=900)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        page = httpx.get(f"http://{HOST}:8080/", timeout=10)
        assert page.status_code == 200 and "Krisinformation" in page.text
    finally:
        down = cli.run("down", timeout=300)
    assert down.returncode == 0, down.stdout + down.stderr
    assert project_objects() == {"containers": [], "networks": [], "volumes": []}


@pytest.fixture(scope="module")
def stack(base: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[IslandCLI]:
    cli = compose_cli(tmp_path_factory.mktemp("compose") / "state", base)
    progress("island up --backend compose")
    up = cli.run("up", "--backend", "compose", "--detach", timeout=900)
    progress(f"island up exited {up.returncode}")
    assert up.returncode == 0, up.stdout + up.stderr
    assert "started client" in up.stdout and f"http://{HOST}:8080/" in up.stdout
    yield cli
    if project_objects()["containers"]:
        cli.run("down", timeout=300)
    remove_project()


def test_status_shows_every_container_healthy(stack: IslandCLI) -> None:
    status = stack.status()
    assert status["backend"] == "compose" and status["uplink"] == "up"
    assert status["site"]["url"] == f"http://{HOST}:8080/"
    assert status["site"]["by_name"] == "http://krisinfo.kommun.example/", "residents inside use port 80"
    assert status["resolver"] == {"host": HOST, "port": 5300}
    assert status["site"]["https_url"] == "https://krisinfo.kommun.example:8443/", "the published HTTPS port"
    tls = status["tls"]
    assert tls["https"] == "on" and tls["names"] == ["krisinfo.kommun.example"], tls
    assert tls["days_left"] > 30 and "Pebble" in tls["issuer"]
    assert "BEGIN CERTIFICATE" in Path(tls["ca_file"]).read_text(), "the simulated public CA, on the host"
    assert "PRIVATE KEY" not in Path(tls["certificate_file"]).read_text(), (
        "the island's key stays in its site"
    )
    assert {name: s["health"] for name, s in status["services"].items()} == {
        name: "healthy" for name in ("upstream", "router", "resolver", "site", "client")
    }


def test_a_second_up_of_the_same_project_is_refused_and_leaves_the_first(
    stack: IslandCLI, base: str, tmp_path: Path
) -> None:
    other = compose_cli(tmp_path / "other-state", base)
    again = other.run("up", "--backend", "compose", "--detach", timeout=120)
    assert again.returncode == 3
    assert f"the compose project {PROJECT} already has containers" in again.stderr
    assert len(project_objects()["containers"]) == 5
    assert stack.status()["up"] is True


def test_the_crisis_page_opens_from_the_host(stack: IslandCLI) -> None:
    page = httpx.get(f"http://{HOST}:8080/", timeout=10)
    assert page.status_code == 200
    assert "Krisinformation" in page.text and 'lang="sv"' in page.text
    assert httpx.get(f"http://{HOST}:8080/healthz", timeout=10).status_code == 200


def https_from_the_host(status: dict) -> subprocess.CompletedProcess[str]:
    """curl to the published HTTPS port by the crisis name, trusting only the simulated public CA."""
    pin = f"krisinfo.kommun.example:8443:{HOST}"
    return curl_trusting(status["tls"]["ca_file"], "--resolve", pin, status["site"]["https_url"])


def test_the_crisis_page_opens_over_https_from_the_host(stack: IslandCLI) -> None:
    fetched = https_from_the_host(stack.status())
    assert fetched.returncode == 0 and "Krisinformation" in fetched.stdout, fetched.stderr


# In the site's container, as the site renews: a new key, a CSR with the island's credential.
ASK_THE_MUNICIPALITY = """
import httpx
from acme import crypto_util
from cryptography.hazmat.primitives.asymmetric import ec
from services.tls.certificate import key_pem
key = ec.generate_private_key(ec.SECP256R1())
token = open("/var/lib/island/credential/certificate-service.token").read().strip()
answer = httpx.post(
    "http://{internet}/api/island-certificate",
    content=crypto_util.make_csr(key_pem(key), ["krisinfo.kommun.example"]),
    headers={{"host": "www.kommun.example", "authorization": "Bearer " + token}},
    timeout=60,
)
answer.raise_for_status()
print(key_pem(key).decode() + "--split--" + answer.text)
"""


def test_install_cert_hands_a_certificate_to_the_site_in_its_container(
    stack: IslandCLI, tmp_path: Path
) -> None:
    asked = docker(
        "exec",
        project_container("site"),
        "python",
        "-c",
        ASK_THE_MUNICIPALITY.format(internet=f"{DOCKER_NET}.2.1"),
    )
    assert asked.returncode == 0, asked.stderr
    key, chain = asked.stdout.split("--split--")
    (tmp_path / "key.pem").write_text(key)
    (tmp_path / "chain.pem").write_text(chain)
    done = stack.run("site", "install-cert", str(tmp_path / "chain.pem"), str(tmp_path / "key.pem"))
    assert done.returncode == 0, done.stderr
    wanted = x509.load_pem_x509_certificate(chain.encode()).serial_number
    status = stack.status()
    deadline = time.monotonic() + 15
    while served_serial(status["tls"]["ca_file"], HOST, 8443) != wanted:
        assert time.monotonic() < deadline, "the installed certificate is not served"
        time.sleep(0.5)
    assert "PRIVATE KEY" not in Path(stack.status()["tls"]["certificate_file"]).read_text()


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_the_island_resolver_answers_on_its_host_port(stack: IslandCLI, tcp: bool) -> None:
    crisis, _ = ask("krisinfo.kommun.example", tcp=tcp)
    assert crisis.rcode() == dns.rcode.NOERROR, f"{crisis}\n{stack_logs()}"
    assert addresses(crisis) == [f"{DOCKER_NET}.3.2"]
    outside, _ = ask("www.bank.example", tcp=tcp)
    assert outside.rcode() == dns.rcode.NOERROR and addresses(outside) == [f"{DOCKER_NET}.2.1"]


def test_the_resident_reaches_the_crisis_page_by_name_through_dockers_dns(stack: IslandCLI) -> None:
    client = project_container("client")
    fetched = docker(
        "exec",
        "--user",
        "island",
        client,
        "python",
        "-c",
        "import httpx; r = httpx.get('http://krisinfo.kommun.example/'); print(r.status_code, 'Krisinformation' in r.text)",
    )
    assert fetched.stdout.split() == ["200", "True"], fetched.stderr


# A phone during a cut, in the client container: its HTTPS to a foreign name (at the outside address the
# name had: the router's, here) and Android's check there by address, as a phone that kept the name.
PHONE_IN_A_CUT = """
import asyncio, ssl, time, httpx
async def https_out():
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    started = time.monotonic()
    try:
        await asyncio.wait_for(asyncio.open_connection(
            "{outside}", 443, ssl=context, server_hostname="www.bank.example"), 5)
        outcome = "connected"
    except (ConnectionResetError, ConnectionRefusedError) as refused:
        outcome = type(refused).__name__
    except TimeoutError:
        outcome = "timeout"
    print(outcome, round(time.monotonic() - started, 2))
asyncio.run(https_out())
try:
    r = httpx.get("http://{outside}/generate_204", headers={{"Host": "connectivitycheck.gstatic.com"}}, timeout=3)
    print(r.status_code, r.headers.get("location"))
except httpx.HTTPError as failed:
    print("no-internet", type(failed).__name__)
"""


def test_in_a_cut_a_phones_https_out_is_reset_at_once_and_its_check_reaches_the_portal(
    stack: IslandCLI,
) -> None:
    client = project_container("client")
    phone = PHONE_IN_A_CUT.format(outside=f"{DOCKER_NET}.2.1")
    stack.run("uplink", "cut", "--mode", "blackhole", check=True)
    try:
        started, seen = time.monotonic(), []
        while not seen or seen[-1][1].split()[0] != "302":  # until the island gate has closed
            assert time.monotonic() - started < 20, seen
            done = docker("exec", "--user", "island", client, "python", "-c", phone)
            seen.append(done.stdout.strip().splitlines())
        https, check = seen[-1]
        assert https.split()[0] in ("ConnectionResetError", "ConnectionRefusedError"), seen
        assert float(https.split()[1]) < 1.0, seen
        assert check == "302 http://krisinfo.kommun.example/", seen
    finally:
        stack.run("uplink", "restore", check=True)


@pytest.mark.parametrize("mode", ["blackhole", "reject"])
def test_a_cut_in_the_router_fails_outside_names_and_keeps_the_island(stack: IslandCLI, mode: str) -> None:
    cut = stack.run("uplink", "cut", "--mode", mode, check=True)
    assert f"The uplink is cut ({mode})" in cut.stdout
    try:
        assert stack.status()["uplink_mode"] == mode
        crisis, crisis_seconds = ask("krisinfo.kommun.example")
        assert addresses(crisis) == [f"{DOCKER_NET}.3.2"] and crisis_seconds < 1.0
        outside, outside_seconds = ask(f"{mode}.nyheter.example")
        assert outside.rcode() == dns.rcode.SERVFAIL
        if mode == "reject":
            assert outside_seconds < 0.5, f"a rejected uplink fails fast, not after {outside_seconds:.2f} s"
        else:
            # Within the forward budget, never slower; at once when the resolver's heartbeat has
            # already found the black hole (island mode).
            assert outside_seconds < 2.0, (
                f"a black hole answers SERVFAIL within the forward budget, took {outside_seconds:.2f} s"
            )
        assert httpx.get(f"http://{HOST}:8080/", timeout=10).status_code == 200
        assert "Krisinformation" in https_from_the_host(stack.status()).stdout, "HTTPS kept through the cut"
    finally:
        stack.run("uplink", "restore", check=True)
    assert stack.status()["uplink"] == "up"
    assert ask("www.bank.example")[0].rcode() == dns.rcode.NOERROR


def test_the_bundle_loads_installs_offline_and_runs_the_stack(
    stack: IslandCLI, base: str, tmp_path: Path
) -> None:
    """On an island: `docker load`, the island command from the wheelhouse with no index, the stack from the bundle."""
    progress("island bundle (docker save)")
    bundle = tmp_path / "bundle"
    run = stack.run("bundle", str(bundle), timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "build:" not in (bundle / "docker-compose.yml").read_text()
    loaded = docker("load", "--input", str(bundle / "images.tar"), timeout=300)
    assert loaded.returncode == 0, loaded.stderr
    assert "odrift-island:0.1.0" in loaded.stdout

    progress("the bundle's island command, installed with pip --no-index, brings up the bundle's stack")
    island = install_offline(bundle / "wheelhouse", tmp_path / "venv")
    host = f"{island_net(8)}.0.1"
    project = f"{PROJECT}-bundle"
    env = offline_env(
        ISLAND_STATE_DIR=str(tmp_path / "state"),
        ISLAND_COMPOSE_FILE=str(bundle / "docker-compose.yml"),
        ISLAND_COMPOSE_PROJECT=project,
        ISLAND_DOCKER_NET=f"10.{NET_BASE + 8}",
        ISLAND_HTTP_BIND=host,
        ISLAND_DNS_BIND=host,
    )
    remove_project(project)
    try:
        up = subprocess.run(
            [island, "up", "--backend", "compose", "--detach"],
            cwd=bundle,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert up.returncode == 0, up.stdout + up.stderr
        assert "using the image odrift-island:0.1.0 as it is" in up.stdout
        assert "HTTPS on" in up.stdout, "the bundle's image has the simulated public CA too"
        page = httpx.get(f"http://{host}:8080/", timeout=10)
        assert page.status_code == 200 and "Krisinformation" in page.text
    finally:
        down = subprocess.run(
            [island, "down"], cwd=bundle, env=env, capture_output=True, text=True, timeout=300
        )
        remove_project(project)
    assert down.returncode == 0 and "The island is down." in down.stdout, down.stdout + down.stderr


def test_down_removes_its_own_containers_networks_and_volumes_and_nothing_else(stack: IslandCLI) -> None:
    decoy = f"{PROJECT}-decoy"
    docker("network", "rm", decoy)
    assert (
        docker("network", "create", "--label", f"com.docker.compose.project={PROJECT}x", decoy).returncode
        == 0
    )
    try:
        before = project_objects()
        assert len(before["containers"]) == 5 and len(before["networks"]) == 3
        down = stack.run("down", timeout=300)
        assert down.returncode == 0, down.stderr
        assert "The island is down." in down.stdout
        assert project_objects() == {"containers": [], "networks": [], "volumes": []}
        assert docker("network", "inspect", decoy).returncode == 0, (
            "down touched a network that is not its own"
        )
        assert docker("image", "inspect", "odrift-island:0.1.0").returncode == 0, (
            "images stay for the next up"
        )
        assert not (stack.state_dir / "state.json").exists()
    finally:
        docker("network", "rm", decoy)


def stack_logs() -> str:
    """The resolver's and the router's last words, for a failure message."""
    return "\n".join(
        f"--- {service}:\n"
        + (lambda done: done.stdout + done.stderr)(docker("logs", "--tail", "20", project_container(service)))
        for service in ("resolver", "router")
    )


def project_container(service: str) -> str:
    listed = docker(
        "ps",
        "--quiet",
        "--filter",
        f"label=com.docker.compose.project={PROJECT}",
        "--filter",
        f"label=com.docker.compose.service={service}",
    )
    assert listed.stdout.split(), f"no {service} container"
    return listed.stdout.split()[0]
