"""Probes: what a resident's phone does, timed, from the resident's place on the island.

The same code runs wherever a backend places the resident (a loopback address
here, a client namespace elsewhere); only the :class:`Place` changes.
"""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx
from dnslib import QTYPE, RCODE, DNSRecord
from markupsafe import escape  # as the site escapes what it shows (Jinja2)

from services.dns import DNSExchangeError, DNSRefused, DNSTimeout, query
from services.tls.context import client_context

from .contract import (
    DNSCheck,
    HTTPCheck,
    Operation,
    Outcome,
    Person,
    PhoneCheck,
    ReachCheck,
    RegionCheck,
    RegistryOperation,
    Status,
)

# What the registry's answer pages say they are, for programs (services/crisis_site/routes/registry.py):
# a registration made durable, a resident found, the one miss answer, the rate limit.
REGISTERED_MARK = 'data-registry="registered"'
FOUND_MARK = 'data-registry="found"'
MISS_MARK = 'data-registry="not-found"'
LIMITED_MARK = 'data-registry="limited"'
# What the registration form sends with every resident (the form's preset message keys).
REGISTER_PRESETS = ("safe", "at_point")


@dataclass(frozen=True)
class Place:
    """Where probes run from: the resolver a phone there was given, and its own address."""

    resolver_host: str
    resolver_port: int
    http_port: int
    source_address: str | None = None
    # Where the other places' hosts are, for reach probes.
    hosts: dict[str, str] = field(default_factory=dict)
    # HTTPS: its port, and the roots a phone there trusts (the simulated public CA); None: none known.
    https_port: int = 443
    ca_file: str | None = None
    # A region's crisis sites by place (hub, a, b, ...), for region probes; empty for one island.
    region_sites: dict[str, str] = field(default_factory=dict)


def region_converged(answers: dict[str, dict[str, Any]], min_records: int) -> str:
    """What a region probe says of each place's /api/region.json: the detail when converged, else _Failed."""
    counts = {place: (a["records"], a["messages"]) for place, a in answers.items()}
    if len(set(counts.values())) != 1:
        raise _Failed("fail", "registry counts (records, messages) differ: " + _by_place(counts))
    records = next(iter(counts.values()))[0]
    if records < min_records:
        raise _Failed("fail", f"{records} records everywhere, fewer than {min_records}")
    islands = {place: frozenset(a["crisis_messages"]) for place, a in answers.items() if place != "hub"}
    if len(set(islands.values())) != 1:
        raise _Failed("fail", "crisis messages differ: " + _by_place({p: len(m) for p, m in islands.items()}))
    missing = set(answers.get("hub", {}).get("crisis_messages", ())) - next(iter(islands.values()))
    if missing:
        raise _Failed("fail", f"{len(missing)} of the hub's crisis messages are not on the islands")
    return f"converged: {records} records, {len(next(iter(islands.values())))} crisis messages, {len(answers)} places"


def _by_place(values: Mapping[str, object]) -> str:
    return ", ".join(f"{place} {value}" for place, value in values.items())


class _Failed(Exception):
    def __init__(self, status: Status, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class Prober:
    """Runs probes from one place; each page is a new connection, like a phone opening it anew.

    HTTP is a plain HTTP/1.1 GET (or form POST) on asyncio streams rather than an HTTP client library: a
    library's own work per request (measured ~1-3 ms with httpx on these machines) would be
    counted as the page's latency, and the prober must record what a client sees within 1 ms
    (bench/prober.py checks it against an independent client).
    """

    def __init__(self, place: Place, crisis_name: str) -> None:
        self.place = place
        self.crisis_name = crisis_name
        self._tls: ssl.SSLContext | None = None

    def _tls_context(self) -> ssl.SSLContext:
        """The phone's trust: only the simulated public CA's roots, names checked."""
        if self.place.ca_file is None:
            raise _Failed("fail", "TLS: no public CA is known here to verify the certificate against")
        if self._tls is None:
            self._tls = client_context(Path(self.place.ca_file))
        return self._tls

    async def aclose(self) -> None:
        """Nothing is kept open between operations."""

    async def run(self, probe: Operation) -> Outcome:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(probe.timeout):
                if probe.dns is not None:
                    detail = await self._dns(probe.dns, probe.timeout)
                elif probe.reach is not None:
                    detail = await self._reach(probe.reach)
                elif probe.registry is not None:
                    detail = await self._registry(probe.registry, probe.timeout)
                elif probe.phone is not None:
                    detail = await self._phone(probe.phone, probe.timeout)
                elif probe.region is not None:
                    detail = await self._region(probe.region, probe.timeout)
                else:
                    assert probe.http is not None  # an operation is exactly one kind of check
                    detail = await self._http_get(probe.http, probe.timeout)
            status: Status = "ok"
        except _Failed as failed:
            status, detail = failed.status, failed.detail
        except TimeoutError:
            status, detail = "unknown", f"no result within {probe.timeout:g} s"
        if probe.phone is not None and probe.phone.join:
            detail += f" ({SIMULATED_JOIN})"
        return Outcome(status, (time.perf_counter() - started) * 1000, detail)

    async def _region(self, check: RegionCheck, timeout: float) -> str:
        """Every place's /api/region.json, by the crisis name (an island in island mode answers other
        names as a captive portal); ok when the region has converged."""
        if not self.place.region_sites:
            raise _Failed("fail", "this is one island, not a region: there is nothing to converge")
        answers: dict[str, dict[str, Any]] = {}
        async with httpx.AsyncClient(timeout=timeout, trust_env=False) as client:
            for place, host in self.place.region_sites.items():
                url = f"http://{host}:{self.place.http_port}/api/region.json"
                try:
                    response = await client.get(url, headers={"Host": self.crisis_name})
                    response.raise_for_status()
                    answers[place] = response.json()
                except (httpx.HTTPError, ValueError) as exc:
                    raise _Failed("fail", f"{place} does not answer: {exc}") from exc
        return region_converged(answers, check.min_records)

    def _expand(self, text: str) -> str:
        return text.replace("{crisis_name}", self.crisis_name)

    async def _resolve(self, name: str, qtype: str, timeout: float) -> DNSRecord:
        try:
            return await query(
                name,
                qtype,
                self.place.resolver_host,
                self.place.resolver_port,
                timeout=timeout,
                source_host=self.place.source_address,
            )
        except DNSTimeout as exc:
            raise _Failed("unknown", f"DNS: {exc}") from exc
        except DNSRefused as exc:
            raise _Failed("fail", f"DNS refused: {exc}") from exc
        except DNSExchangeError as exc:
            raise _Failed("fail", f"DNS: {exc}") from exc

    async def _dns(self, check: DNSCheck, timeout: float) -> str:
        name = self._expand(check.name)
        answer = await self._resolve(name, check.type, timeout)
        rcode = RCODE[answer.header.rcode]
        if rcode != check.rcode:
            raise _Failed("fail", f"{name} {check.type}: {rcode}, expected {check.rcode}")
        records = [rr for rr in answer.rr if rr.rtype == QTYPE.reverse[check.type]]
        if check.rcode == "NOERROR" and not records:
            raise _Failed("fail", f"{name} {check.type}: no {check.type} record in the answer")
        if check.address is not None:
            wanted = self._expand(check.address)
            if not any(str(rr.rdata) == wanted for rr in records):
                raise _Failed(
                    "fail", f"{name}: {', '.join(str(r.rdata) for r in records)}, expected {wanted}"
                )
        return f"{rcode} {', '.join(str(rr.rdata) for rr in records)}".strip()

    async def _address(self, host: str, timeout: float) -> str:
        """The host's address: by name through the island's resolver, as a phone would."""
        try:
            return str(ipaddress.ip_address(host))
        except ValueError:
            answer = await self._resolve(host, "A", timeout)
            addresses = [str(rr.rdata) for rr in answer.rr if rr.rtype == QTYPE.A]
            if not addresses:
                raise _Failed("fail", f"DNS: {host} has no address ({RCODE[answer.header.rcode]})") from None
            return addresses[0]

    async def _fetch(
        self, url: str, timeout: float, form: Mapping[str, str | Sequence[str]] | None = None
    ) -> tuple[int, bytes]:
        """GET the URL, or POST the form to it as a browser submits a same-site form; the status and the page."""
        status, _, body = await self._fetch_full(url, timeout, form)
        return status, body

    async def _fetch_full(
        self, url: str, timeout: float, form: Mapping[str, str | Sequence[str]] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        """The status, the headers (lower-case names) and the body."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        secure = parts.scheme == "https"
        port = parts.port or (self.place.https_port if secure else self.place.http_port)
        address = await self._address(host, timeout)
        target = urlunsplit(("", "", parts.path or "/", parts.query, ""))
        host_header = host if port == (443 if secure else 80) else f"{host}:{port}"
        try:
            status, headers, body = await _request(
                address,
                port,
                host_header,
                target,
                self.place.source_address,
                None if form is None else urlencode(form, doseq=True).encode("utf-8"),
                (self._tls_context(), host) if secure else None,
            )
        except ssl.SSLCertVerificationError as exc:
            raise _Failed("fail", f"TLS: the certificate does not verify: {exc.verify_message}") from exc
        except ssl.SSLError as exc:
            raise _Failed("fail", f"TLS: {exc.reason or exc}") from exc
        except (OSError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise _Failed("fail", f"HTTP: {type(exc).__name__}: {reason}") from exc
        return status, headers, body

    async def _http_get(self, check: HTTPCheck, timeout: float) -> str:
        status, body = await self._fetch(self._expand(check.url), timeout)
        if status != check.status:
            raise _Failed("fail", f"HTTP {status}, expected {check.status}")
        if check.contains is not None and self._expand(check.contains) not in body.decode("utf-8", "replace"):
            raise _Failed("fail", f"HTTP {status} without {check.contains!r}")
        return f"HTTP {status}, {len(body)} bytes"

    async def _registry(self, check: RegistryOperation, timeout: float) -> str:
        """Register a resident, or look one up, with the registry's own forms. Anonymous forms carry no
        CSRF token; the registry checks the Origin, and a browser's is the site's own (see _request)."""
        site = self._expand(check.site)
        if check.action == "register":
            return await self._register(site, check.person, timeout)
        return await self._lookup(site, check.person, check.identifier == "right", timeout)

    async def _register(self, site: str, person: Person, timeout: float) -> str:
        form = {
            "lang": "sv",
            "name": person.name,
            "identifier": person.identifier,
            "presets": list(REGISTER_PRESETS),
            "text": person.message,
        }
        status, body = await self._fetch(f"{site}/anhoriga/registrera", timeout, form)
        page = body.decode("utf-8", "replace")
        if status == 200 and REGISTERED_MARK in page:
            return f"registered {person.name}"
        raise _Failed("fail", f"register {person.name}: {_registry_refusal(status, page)}")

    async def _lookup(self, site: str, person: Person, right: bool, timeout: float) -> str:
        form = {
            "lang": "sv",
            "name": person.name,
            "identifier": person.identifier if right else person.wrong_identifier,
        }
        status, body = await self._fetch(f"{site}/anhoriga/sok", timeout, form)
        page = body.decode("utf-8", "replace")
        if status != 200 or not (FOUND_MARK in page or MISS_MARK in page):
            raise _Failed("fail", f"look up {person.name}: {_registry_refusal(status, page)}")
        found = FOUND_MARK in page
        if not right:
            if found or escape(person.name) in page:
                raise _Failed("fail", f"PRIVACY: {person.name} found with a wrong identifier")
            return f"{person.name}: wrong identifier, nothing found"
        if not found:
            raise _Failed("fail", f"{person.name} not found with the identifier they registered with")
        if escape(person.message) not in page:
            raise _Failed("fail", f"{person.name} found without their message")
        return f"{person.name}: found with their message"

    async def _phone(self, check: PhoneCheck, timeout: float) -> str:
        """The OS's verdict, as its connectivity check reaches it; a portal's sheet is followed to its page.

        A join here is simulated (the phone already has its address; :meth:`run` says so): the netns
        backend, which has a real DHCP server, joins first and hands the check on without ``join``."""
        url, online = PHONE_CHECKS[check.os]
        try:
            status, headers, body = await self._fetch_full(url, timeout)
        except _Failed as failed:
            # DNS that fails or an answer that never comes: every OS says "no internet", and shows nothing.
            raise _Failed("fail", f"no-internet ({failed.detail})") from None
        if online(status, body):
            return f"online (HTTP {status})"
        sheet = headers.get("location", url) if 300 <= status < 400 else url
        if check.os == "android" and not 200 <= status < 400:
            raise _Failed("fail", f"no-internet (HTTP {status})")
        try:
            page_status, _, page = await self._fetch_full(sheet, timeout)
        except _Failed as failed:
            raise _Failed(
                "fail", f"portal {sheet}, but the sign-in sheet shows nothing ({failed.detail})"
            ) from None
        if page_status != 200 or CRISIS_PAGE_MARK.encode() not in page:
            raise _Failed(
                "fail", f"portal {sheet}, but the sheet shows HTTP {page_status}, not the crisis page"
            )
        return f"portal {sheet}"

    async def _reach(self, check: ReachCheck) -> str:
        host = self.place.hosts.get(check.place)
        if host is None:
            raise _Failed("fail", f"no host is known at {check.place}")
        local = (self.place.source_address, 0) if self.place.source_address else None
        try:
            _, writer = await asyncio.open_connection(host, check.port, local_addr=local)
        except ConnectionRefusedError:
            return f"{check.place} ({host}) answered: port {check.port} refused"
        except OSError as exc:
            raise _Failed("fail", f"{check.place} ({host}): {exc.strerror or exc}") from exc
        writer.close()
        return f"{check.place} ({host}) answered: port {check.port} open"


# What a phone probe that joins says where there is no DHCP server to join (local, compose).
SIMULATED_JOIN = "join simulated: no DHCP on this backend, the phone already has its address"

# Each OS's published check (docs/phones.md): the URL, and what the answer is when the phone is online.
PHONE_CHECKS: dict[str, tuple[str, Callable[[int, bytes], bool]]] = {
    # AOSP NetworkStack: 204, or a 200 with at most 4 bytes of body, is "validated".
    "android": (
        "http://connectivitycheck.gstatic.com/generate_204",
        lambda s, b: s == 204 or (s == 200 and len(b) <= 4),
    ),
    "apple": ("http://captive.apple.com/hotspot-detect.html", lambda s, b: s == 200 and b"Success" in b),
    "windows": (
        "http://www.msftconnecttest.com/connecttest.txt",
        lambda s, b: s == 200 and b.strip() == b"Microsoft Connect Test",
    ),
    "firefox": (
        "http://detectportal.firefox.com/canonical.html",
        lambda s, b: s == 200 and b"support.mozilla.org/kb/captive-portal" in b,
    ),
    # NetworkManager as Ubuntu configures it.
    "networkmanager": ("http://connectivity-check.ubuntu.com/", lambda s, b: s == 204),
}
# A sign-in sheet must show this: the crisis page's own marker of itself.
CRISIS_PAGE_MARK = 'id="trygghetspunkter"'


def _registry_refusal(status: int, page: str) -> str:
    if status == 429 or LIMITED_MARK in page:
        return "HTTP 429, the registry's rate limit was hit"
    return f"HTTP {status}, not the registry's answer page"


async def _request(
    address: str,
    port: int,
    host: str,
    target: str,
    source: str | None,
    form: bytes | None = None,
    tls: tuple[ssl.SSLContext, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 GET (or POST of a urlencoded form) on a new connection; the status, the headers and the (de-chunked) body.

    With ``tls`` (a context and the name to verify), over TLS: a new handshake each time, as a phone opening the page.
    """
    local = (source, 0) if source else None
    if tls is None:
        reader, writer = await asyncio.open_connection(address, port, local_addr=local)
    else:
        context, name = tls
        reader, writer = await asyncio.open_connection(
            address, port, local_addr=local, ssl=context, server_hostname=name
        )
    try:
        if form is None:
            request = f"GET {target} HTTP/1.1\r\n"
        else:  # a browser's same-site form: its Origin is the site itself
            request = (
                f"POST {target} HTTP/1.1\r\nOrigin: http://{host}\r\n"
                f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(form)}\r\n"
            )
        writer.write(
            f"{request}Host: {host}\r\nUser-Agent: odrift-prober\r\n"
            "Accept: */*\r\nConnection: close\r\n\r\n".encode("latin-1")
            + (form or b"")
        )
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            raise ValueError(f"not an HTTP response: {lines[0][:60]!r}")
        headers = {
            k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)
        }
        if "content-length" in headers:
            body = await reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while size := int((await reader.readline()).split(b";")[0].strip() or b"0", 16):
                body += await reader.readexactly(size)
                await reader.readline()
        else:
            body = await reader.read()
        return int(parts[1]), headers, body
    except asyncio.IncompleteReadError as exc:
        raise ValueError("the connection closed in the middle of the response") from exc
    finally:
        writer.close()
