"""The captive portal and the RFC 8908 API, on a real site process over real HTTP.

What each OS's check gets when island mode has sent it to the island: a redirect to the crisis
page, which makes every OS open its sign-in sheet there (docs/phones.md).
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import httpx
import pytest
from site_helpers import free_port, run_site, wait_healthy

from services.crisis_site.portal import Portal

pytestmark = pytest.mark.e2e

CRISIS = "krisinfo.kommun.example"
# Each OS's published check (BRIEF.md): the host, the path, and what "online" would look like.
CHECKS = {
    "android": ("connectivitycheck.gstatic.com", "/generate_204"),
    "apple": ("captive.apple.com", "/hotspot-detect.html"),
    "windows": ("www.msftconnecttest.com", "/connecttest.txt"),
    "firefox": ("detectportal.firefox.com", "/canonical.html"),
    "networkmanager": ("nmcheck.gnome.org", "/check_network_status.txt"),
}


class _Metrics(BaseHTTPRequestHandler):
    island_mode = 0

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = (
            "# TYPE island_resolver_island_mode gauge\n"
            f"island_resolver_island_mode {float(type(self).island_mode)}\n"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def resolver_metrics() -> Iterator[type[_Metrics]]:
    """A stand-in for the resolver's /metrics (the resolver's own island mode has its own tests)."""
    handler = type("Metrics", (_Metrics,), {"island_mode": 0})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    handler.url = f"http://127.0.0.1:{server.server_address[1]}/metrics"  # type: ignore[attr-defined]
    try:
        yield handler
    finally:
        server.shutdown()


@pytest.fixture()
def site(tmp_path: Path, resolver_metrics: type[_Metrics]) -> Iterator[str]:
    port = free_port()
    proc = run_site(
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--db",
        str(tmp_path / "site.sqlite3"),
        "--crisis-name",
        CRISIS,
        "--resolver-metrics",
        resolver_metrics.url,
    )  # type: ignore[attr-defined]
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, proc)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _raw_get(base: str, host: str, path: str) -> bytes:
    """One request as a phone's check sends it (its own Host, no redirects followed)."""
    port = int(base.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return data


@pytest.mark.parametrize("os_name", sorted(CHECKS))
def test_each_os_check_is_sent_to_the_crisis_page(site: str, os_name: str) -> None:
    host, path = CHECKS[os_name]
    answer = httpx.get(site + path, headers={"Host": host}, follow_redirects=False)
    assert answer.status_code == 302
    assert answer.headers["location"] == f"http://{CRISIS}/"
    assert answer.headers["cache-control"] == "no-store"
    # The same on the site's fastest path (raw HTTP/1.1, the way a phone's check library sends it).
    raw = _raw_get(site, host, path)
    assert raw.startswith(b"HTTP/1.1 302") and f"location: http://{CRISIS}/".encode() in raw.lower()


def test_any_page_of_a_foreign_host_is_sent_to_the_crisis_page(site: str) -> None:
    for method in ("GET", "POST", "HEAD"):
        answer = httpx.request(method, site + "/search?q=water", headers={"Host": "www.google.com"})
        assert answer.status_code == 302 and answer.headers["location"] == f"http://{CRISIS}/"


def test_the_crisis_name_and_addresses_get_the_site(site: str) -> None:
    by_name = httpx.get(site + "/", headers={"Host": CRISIS})
    assert by_name.status_code == 200 and "<html" in by_name.text
    assert httpx.get(site + "/").status_code == 200  # by address: the operator's own checks
    assert httpx.get(site + "/", headers={"Host": f"{CRISIS.upper()}:80"}).status_code == 200


def test_the_rfc8908_api_follows_the_resolvers_island_mode(
    site: str, resolver_metrics: type[_Metrics]
) -> None:
    import time

    def state() -> dict[str, object]:
        answer = httpx.get(site + "/api/captive", headers={"Host": CRISIS})
        assert answer.headers["content-type"] == "application/captive+json"
        assert answer.headers["cache-control"] == "private, no-store"
        return json.loads(answer.text)

    first = state()
    assert first["captive"] is False
    assert first["user-portal-url"] == f"http://{CRISIS}/"
    assert first["venue-info-url"] == f"http://{CRISIS}/#trygghetspunkter"
    resolver_metrics.island_mode = 1
    deadline = time.monotonic() + 5
    while not state()["captive"]:
        assert time.monotonic() < deadline, "captive did not follow island mode within 5 s"
        time.sleep(0.2)
    resolver_metrics.island_mode = 0
    deadline = time.monotonic() + 5
    while state()["captive"]:
        assert time.monotonic() < deadline
        time.sleep(0.2)


def test_hosts_that_are_the_sites_own_are_never_foreign() -> None:
    portal = Portal(CRISIS)
    for host in (CRISIS, CRISIS + ".", "127.0.0.1:8080", "[::1]:8080", "localhost:8080", "10.20.0.11"):
        assert not portal.is_foreign([(b"host", host.encode())]), host
    assert portal.is_foreign([(b"host", b"captive.apple.com")])
    assert not portal.is_foreign([])  # HTTP/1.0 without Host: the site's own
