"""The captive portal: a request for a foreign host that reaches the island is sent to the crisis page.

The island resolver sends phones' connectivity checks here only while the uplink is down (island
mode, services/resolver/island_mode.py); so a request whose Host is some other name than the
crisis name means "this phone thinks it is on the internet and is not". Every OS opens its sign-in
sheet when its check gets a redirect instead of its expected answer (docs/phones.md), and the sheet
follows the redirect to the crisis page. Requests by address (an IP literal, localhost) are the
operator's and are served as usual.
"""

from __future__ import annotations

import ipaddress
from html import escape

_LITERAL_HOSTS = {"localhost"}


def _host_name(headers: list[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name == b"host":
            host = value.decode("latin-1").strip().lower()
            if host.startswith("["):  # [v6]:port
                return host[1 : host.find("]")] if "]" in host else host
            return host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    return None


def _is_literal(host: str) -> bool:
    if host in _LITERAL_HOSTS:
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class Portal:
    """Answers requests for foreign hosts with a redirect to the crisis page."""

    def __init__(self, crisis_name: str, scheme: str = "http") -> None:
        self.crisis_name = crisis_name.lower().rstrip(".")
        self.location = f"{scheme}://{self.crisis_name}/"
        body = (
            '<!doctype html><html lang="sv"><meta charset="utf-8"><title>Krisinformation</title>'
            f'<p><a href="{escape(self.location)}">Krisinformation: {escape(self.crisis_name)}</a></p></html>'
        ).encode()
        self._response = (
            302,
            [
                (b"location", self.location.encode()),
                (b"cache-control", b"no-store"),  # a phone must ask again after the restore
                (b"content-type", b"text/html; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
            ],
            body,
        )

    def is_foreign(self, headers: list[tuple[bytes, bytes]]) -> bool:
        host = _host_name(headers)
        if host is None or host.rstrip(".") == self.crisis_name or _is_literal(host):
            return False
        return True

    def answer(
        self, method: str, headers: list[tuple[bytes, bytes]]
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes] | None:
        """(status, headers, body) for a foreign host; None for the site's own requests."""
        if not self.is_foreign(headers):
            return None
        status, out, body = self._response
        return status, out, b"" if method == "HEAD" else body
