"""The outside world's DNS: authoritative for the simulated internet's zones."""

from __future__ import annotations

from dnslib import QTYPE, RCODE, RR, TXT, DNSRecord

from services.dns import Zones, reply_to

from .acme_issuer import ChallengeRecords


class AuthoritativeDNS:
    def __init__(self, zones: Zones, challenges: ChallengeRecords | None = None) -> None:
        self.zones = zones
        self.challenges = challenges or ChallengeRecords()

    async def handle(self, query: DNSRecord, client: tuple[str, int], transport: str) -> DNSRecord:
        if query.q.qtype == QTYPE.TXT:  # ACME DNS-01 records of an order being validated
            values = self.challenges.get(str(query.q.qname))
            if values:
                reply = reply_to(query, authoritative=True)
                for value in values:
                    reply.add_answer(RR(query.q.qname, QTYPE.TXT, ttl=0, rdata=TXT(value)))
                return reply
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
