"""The outside world's DNS: authoritative for the simulated internet's zones."""

from __future__ import annotations

from dnslib import RCODE, DNSRecord

from services.dns import Zones, reply_to


class AuthoritativeDNS:
    def __init__(self, zones: Zones) -> None:
        self.zones = zones

    async def handle(self, query: DNSRecord, client: tuple[str, int], transport: str) -> DNSRecord:
        zone = self.zones.find(query.q.qname)
        if zone is None:
            # Not a name the simulated internet has: as the root would say.
            return reply_to(query, rcode=RCODE.NXDOMAIN)
        found = zone.lookup(query.q.qname, query.q.qtype)
        reply = reply_to(query, rcode=found.rcode, authoritative=True)
        reply.header.ra = 0
        for rr in found.answer:
            reply.add_answer(rr)
        for rr in found.authority:
            reply.add_auth(rr)
        return reply
