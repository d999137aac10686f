"""The crisis site over HTTPS beside HTTP: a real process, real TLS handshakes, certificates from a test CA."""

from __future__ import annotations

import json
import re
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from site_helpers import ROOT, free_port, run_site, wait_healthy

from services.tls.certificate import write_pair
from services.tls.small_ca import SmallCA

pytestmark = pytest.mark.e2e

NAME = "krisinfo.kommun.example"


@dataclass
class Site:
    folder: Path
    http: int
    https: int
    ca: SmallCA
    proc: subprocess.Popen[str]

    @property
    def tls(self) -> Path:
        return self.folder / "tls"

    def status(self) -> dict:
        return json.loads((self.tls / "status.json").read_text())


def start_site(
    folder: Path,
    ca: SmallCA,
    with_certificate: bool,
    days: float = 90,
    issued_days_ago: float = 0,
    issuer_url: str | None = None,
) -> Site:
    roots = ca.write_root(folder / "roots.pem")
    tls: dict[str, object] = {"folder": "tls", "name": NAME, "roots": roots.name, "check_interval": 0.2}
    if issuer_url is not None:
        tls["issuer_url"] = issuer_url
    config = {"db": "site.sqlite3", "crisis_name": NAME, "tls": tls}
    (folder / "site.json").write_text(json.dumps(config))
    if with_certificate:
        now = datetime.now(UTC)
        not_before, not_after = now - timedelta(days=issued_days_ago), now + timedelta(days=days)
        cert, key = ca.issue(folder / "issued", [NAME], not_before=not_before, not_after=not_after)
        write_pair(folder / "tls", cert.read_bytes(), key.read_bytes())
    http, https = free_port(), free_port()
    proc = run_site(
        "--host",
        "127.0.0.1",
        "--port",
        str(http),
        "--https-port",
        str(https),
        "--config",
        str(folder / "site.json"),
    )
    wait_healthy(f"http://127.0.0.1:{http}", proc)
    return Site(folder, http, https, ca, proc)


def stop(site: Site) -> str:
    site.proc.terminate()
    try:
        _, err = site.proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        site.proc.kill()
        _, err = site.proc.communicate()
    assert "Traceback" not in err, err
    return err


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    running = start_site(tmp_path_factory.mktemp("site"), SmallCA.make(), with_certificate=True)
    try:
        wait_for(lambda: running.status()["https"] == "on")
        yield running
    finally:
        stop(running)


def wait_for(condition, timeout: float = 10.0, message=lambda: "") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.1)
    raise AssertionError(f"not within the time {message()}".rstrip())


def client_context(site: Site, version: ssl.TLSVersion | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(site.folder / "roots.pem"))
    if version is not None:
        context.minimum_version = context.maximum_version = version
    return context


def fetch(port: int, context: ssl.SSLContext | None, path: str = "/") -> tuple[bytes, dict[str, str], bytes]:
    """One GET as a phone sends it (gzip accepted), over TLS when ``context`` is given; raw bytes back."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock = context.wrap_socket(raw, server_hostname=NAME) if context else raw
    with sock:
        sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: {NAME}\r\nAccept-Encoding: gzip\r\nAccept-Language: sv\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status, *lines = head.split(b"\r\n")
    headers = {k.decode().lower(): v.decode() for k, v in (line.split(b": ", 1) for line in lines)}
    return status, headers, body


def served_serial(site: Site) -> int:
    with socket.create_connection(("127.0.0.1", site.https), timeout=5) as raw:
        with client_context(site).wrap_socket(raw, server_hostname=NAME) as tls:
            from cryptography import x509

            der = tls.getpeercert(binary_form=True)
            assert der is not None
            return x509.load_der_x509_certificate(der).serial_number


def test_https_serves_the_same_cached_compressed_bytes_and_headers_as_http(site: Site) -> None:
    plain = fetch(site.http, None)
    secure = fetch(site.https, client_context(site))
    assert plain[0] == secure[0] == b"HTTP/1.1 200 OK"
    assert plain[1]["content-encoding"] == "gzip"
    assert secure[2] == plain[2], "other bytes over HTTPS"
    assert {k: v for k, v in secure[1].items() if k != "date"} == {
        k: v for k, v in plain[1].items() if k != "date"
    }


def test_a_handshake_for_another_name_is_reset_at_once(site: Site) -> None:
    """In island mode phones' HTTPS checks and apps reach the island: they must fail fast, not hang.

    A TCP reset, as a closed port gives: every client stops at once and none retries for a timeout.
    """
    # A client that would accept any certificate: only the server's refusal can stop this handshake.
    anything = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    anything.check_hostname = False
    anything.verify_mode = ssl.CERT_NONE
    for foreign in ("www.google.com", "WWW.Google.COM.", "captive.apple.com"):
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", site.https), timeout=5) as raw:
            with pytest.raises(ConnectionResetError):
                anything.wrap_socket(raw, server_hostname=foreign)
        assert time.monotonic() - started < 1.0
    assert fetch(site.https, client_context(site))[0].endswith(b"200 OK")  # the crisis name still works
    with socket.create_connection(("127.0.0.1", site.https), timeout=5) as raw:
        # Without SNI (by address, the operator's own check) the handshake goes on as before.
        with anything.wrap_socket(raw) as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3")


def test_a_client_that_says_nothing_is_not_reset_and_does_not_block_others(site: Site) -> None:
    with socket.create_connection(("127.0.0.1", site.https), timeout=5) as silent:
        silent.sendall(b"\x16\x03\x01")  # a third of a record header, then nothing
        assert fetch(site.https, client_context(site))[0].endswith(b"200 OK")


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_tls_12_and_13_with_forward_secret_aead_ciphers(site: Site, version: ssl.TLSVersion) -> None:
    with socket.create_connection(("127.0.0.1", site.https), timeout=5) as raw:
        with client_context(site, version).wrap_socket(raw, server_hostname=NAME) as tls:
            assert (
                tls.version()
                == {ssl.TLSVersion.TLSv1_2: "TLSv1.2", ssl.TLSVersion.TLSv1_3: "TLSv1.3"}[version]
            )
            cipher = tls.cipher()
            assert cipher is not None
            assert "GCM" in cipher[0] or "CHACHA20" in cipher[0]
            if version == ssl.TLSVersion.TLSv1_2:
                assert cipher[0].startswith("ECDHE-")


def test_prometheus_gauges_say_https_is_up_and_the_days_left(site: Site) -> None:
    families = {
        f.name: f for f in text_string_to_metric_families((site.tls / "certificate.prom").read_text())
    }
    assert families["odrift_https_up"].samples[0].value == 1
    days = families["odrift_certificate_days_left"].samples[0]
    assert days.labels["name"] == NAME and days.labels["issuer"] == "Test Root CA" and 88 <= days.value <= 90


def test_a_renewed_certificate_is_served_without_a_restart_and_a_bad_one_is_not(site: Site) -> None:
    before = served_serial(site)
    cert, key = site.ca.issue(site.folder / "renewed", [NAME])
    write_pair(site.tls, cert.read_bytes(), key.read_bytes())
    wait_for(lambda: served_serial(site) != before)
    renewed = served_serial(site)

    wrong, wrong_key = site.ca.issue(site.folder / "wrong", ["www.kommun.example"])
    write_pair(site.tls, wrong.read_bytes(), wrong_key.read_bytes())
    wait_for(lambda: "does not cover" in site.status()["reason"])
    assert served_serial(site) == renewed, "a certificate that fails its checks replaced the served one"
    assert site.status()["https"] == "on"
    assert site.status()["reason"].startswith("kept the served certificate; the new file is refused: ")


class _CertificateService(ThreadingHTTPServer):
    """The municipality's certificate service as the island meets it: a CSR in, a 90-day chain out."""

    def __init__(self, ca: SmallCA, port: int) -> None:
        self.ca = ca
        self.signed = 0
        super().__init__(("127.0.0.1", port), _SignRequest)


class _SignRequest(BaseHTTPRequestHandler):
    server: _CertificateService

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        csr = self.rfile.read(int(self.headers["content-length"]))
        chain = self.server.ca.sign_request(csr, days=90)
        self.server.signed += 1
        self.send_response(200)
        self.send_header("content-type", "application/pem-certificate-chain")
        self.send_header("content-length", str(len(chain)))
        self.end_headers()
        self.wfile.write(chain)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def test_a_certificate_with_a_third_of_its_life_left_is_renewed_by_the_island_itself(tmp_path: Path) -> None:
    """70 of 90 days gone: the island asks the municipality for a new one and serves it without a restart;
    while the municipality does not answer it keeps serving the one it has and says why."""
    ca, port = SmallCA.make(), free_port()
    url = f"http://127.0.0.1:{port}/sign"  # nothing answers there yet: the uplink is cut
    site = start_site(tmp_path, ca, with_certificate=True, days=20, issued_days_ago=70, issuer_url=url)
    try:
        wait_for(lambda: "does not answer" in site.status()["renewal_error"])
        before = served_serial(site)
        assert site.status()["https"] == "on" and 19 <= site.status()["certificate"]["days_left"] <= 20

        service = _CertificateService(ca, port)  # the uplink is back: the municipality answers
        threading.Thread(target=service.serve_forever, daemon=True).start()
        try:
            wait_for(lambda: served_serial(site) != before, message=lambda: str(site.status()))
            assert service.signed == 1, "renewed more than once: the new certificate was not taken as fresh"
            status = site.status()
            assert (
                status["https"] == "on"
                and status["renewal_error"] == ""
                and 89 <= status["certificate"]["days_left"] <= 90
            )
        finally:
            service.shutdown()
            service.server_close()
    finally:
        err = stop(site)
    assert "a new certificate for krisinfo.kommun.example from the municipality" in err


def test_without_a_certificate_http_answers_https_is_closed_and_the_site_says_why(tmp_path: Path) -> None:
    site = start_site(tmp_path, SmallCA.make(), with_certificate=False)
    try:
        wait_for(lambda: site.status()["https"] == "off")
        assert site.status()["reason"] == f"{tmp_path / 'tls' / 'island.pem'}: no certificate yet"
        assert httpx.get(f"http://127.0.0.1:{site.http}/", headers={"Host": NAME}).status_code == 200
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", site.https), timeout=2).close()
    finally:
        err = stop(site)
    assert "HTTPS off: " in err and "no certificate yet (HTTP keeps answering)" in err


def editors_page(site: Site) -> str:
    """The editors' page as an editor sees it after logging in (the account made with the island command)."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "island",
            "site",
            "add-editor",
            "anna",
            "--password-stdin",
            "--db",
            str(site.folder / "site.sqlite3"),
        ],
        input="korrekt häst batteri\n",
        text=True,
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    with httpx.Client(base_url=f"http://127.0.0.1:{site.http}", headers={"Host": NAME}) as client:
        form = client.get("/redaktion/logga-in")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert token is not None
        client.post(
            "/redaktion/logga-in",
            data={"csrf": token.group(1), "username": "anna", "password": "korrekt häst batteri"},
        )
        page = client.get("/redaktion")
        assert page.status_code == 200
        return page.text


def test_the_editors_are_warned_from_three_weeks_before_the_certificate_expires(tmp_path: Path) -> None:
    site = start_site(tmp_path, SmallCA.make(), with_certificate=True, days=12.5)
    try:
        wait_for(lambda: site.status()["https"] == "on")
        page = editors_page(site)
        assert f"Öns certifikat för {NAME} går ut om 12 dagar" in page
        assert 'id="certifikat" role="alert"' in page
    finally:
        stop(site)


def test_the_editors_see_no_warning_with_months_left(site: Site) -> None:
    assert "certifikat" not in editors_page(site)
