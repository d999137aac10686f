"""Island mode: while every upstream is down, phones' connectivity checks are sent to the portal.

Every OS decides "internet, sign-in needed, or nothing" from one HTTP fetch of a known host
(docs/phones.md). During a cut the resolver would answer those hosts from its cache with their real
addresses, the fetches would vanish into the cut, and every phone would say "no internet". In
island mode the check names are answered with the island's portal address instead, so the fetch
reaches the island, which answers it as a captive portal and the phone opens its sign-in sheet on
the crisis page. AAAA and other types get NODATA, so phones use the IPv4 portal.

The check names are never answered from the cache, fresh or stale: in the 1.5-2 s before the island
notices a cut, a cached outside address would send a check into the cut. They are forwarded while
the uplink is believed up, and a forward the cut lets down gets the portal's answer.
"""

from __future__ import annotations

from dnslib import DNSLabel, DNSRecord

from services.dns.wire import reply_to
from services.dns.zone import Zone

from .config import IslandMode


class CheckNames:
    """The check names as a tiny authoritative zone each, and whether island mode is on."""

    def __init__(self, config: IslandMode) -> None:
        self.config = config
        self.active = False
        self._zones = {
            _key(name): Zone.from_text(name, f"@ {config.ttl} IN A {config.portal}\n")
            for name in config.names
        }
        self._wire_names = {_wire(name) for name in config.names}

    def is_check_name(self, wire_name: bytes) -> bool:
        """The one test of "is this a check name": ``wire_name`` is the question's name as sent
        (length-prefixed labels, as in a cache key), any case."""
        return wire_name.lower() in self._wire_names

    def answer(self, query: DNSRecord) -> DNSRecord | None:
        """The portal answer while island mode is on; None otherwise (or for another name)."""
        return self.portal_answer(query) if self.active else None

    def portal_answer(self, query: DNSRecord) -> DNSRecord | None:
        """The portal answer for a check name, island mode on or not (a check the uplink let down)."""
        zone = self._zones.get(_key(query.q.qname))
        if zone is None:
            return None
        found = zone.lookup(query.q.qname, query.q.qtype)
        reply = reply_to(query, rcode=found.rcode, authoritative=True)
        for rr in found.answer:
            reply.add_answer(rr)
        for rr in found.authority:
            reply.add_auth(rr)
        return reply

    def clamp(self, answer: DNSRecord) -> None:
        """A forwarded answer for a check name lives no longer than island mode's TTL on the phone (one
        that asked just before a cut must not keep a dead outside address for minutes)."""
        for rr in (*answer.rr, *answer.auth):
            rr.ttl = min(rr.ttl, self.config.ttl)


def _key(name: str | DNSLabel) -> str:
    return str(DNSLabel(str(name))).lower()


def _wire(name: str) -> bytes:
    return b"".join(bytes([len(label)]) + label for label in DNSLabel(name.lower()).label) + b"\x00"
