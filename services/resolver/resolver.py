"""The island resolver's policy: which questions the island answers itself and which it forwards.

Local zones are answered at once, never waiting on the uplink. Everything else is
forwarded within a fixed time budget; when no upstream answers, the client gets
SERVFAIL instead of silence.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time

from dnslib import EDNS0, QTYPE, RCODE, DNSHeader, DNSLabel, DNSRecord

from services.dns import DNSExchangeError, Zone, Zones, exchange, reply_to, servfail
from services.dns.client import check_answer
from services.dns.wire import OUR_UDP_SIZE, MalformedPacket, parse_response

from .config import Endpoint, ResolverConfig

log = logging.getLogger(__name__)


class IslandResolver:
    def __init__(self, config: ResolverConfig) -> None:
        self.config = config
        self.zones = Zones([Zone.from_text(z.name, z.data) for z in config.local_zones])
        self._zone_types = {str(DNSLabel(z.name)): z.type for z in config.local_zones}

    async def handle(self, query: DNSRecord, client: tuple[str, int], transport: str) -> DNSRecord:
        qname, qtype = query.q.qname, query.q.qtype
        zone = self.zones.find(qname)
        if zone is not None:
            found = zone.lookup(qname, qtype)
            transparent = self._zone_types[str(zone.origin)] == "transparent"
            if not (transparent and (found.rcode == RCODE.NXDOMAIN or not found.answer)):
                reply = reply_to(query, rcode=found.rcode, authoritative=True)
                for rr in found.answer:
                    reply.add_answer(rr)
                for rr in found.authority:
                    reply.add_auth(rr)
                return reply
        return await self._forward(query)

    async def _forward(self, query: DNSRecord) -> DNSRecord:
        deadline = time.monotonic() + self.config.forward_timeout
        upstreams = self.config.upstreams
        for index, upstream in enumerate(upstreams):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            # Share what is left of the budget among the upstreams not yet tried.
            budget = remaining / (len(upstreams) - index)
            try:
                return await self._ask(upstream, query, budget)
            except (DNSExchangeError, MalformedPacket) as exc:
                log.info("upstream %s:%s failed for %s: %s", upstream.host, upstream.port, query.q.qname, exc)
        return servfail(query)

    async def _ask(self, upstream: Endpoint, query: DNSRecord, timeout: float) -> DNSRecord:
        # A fresh ID per upstream query, so a forged answer has to guess it.
        outgoing = DNSRecord(DNSHeader(id=secrets.randbelow(0x10000), rd=1), q=query.q)
        if any(rr.rtype == QTYPE.OPT for rr in query.ar):
            outgoing.add_ar(EDNS0(udp_len=OUR_UDP_SIZE))
        started = time.monotonic()
        data = await exchange(outgoing.pack(), upstream.host, upstream.port, timeout=timeout)
        answer = parse_response(data)
        check_answer(outgoing, answer)
        if answer.header.tc:
            left = timeout - (time.monotonic() - started)
            if left <= 0:
                raise DNSExchangeError("no time left to retry a truncated answer over TCP")
            data = await exchange(outgoing.pack(), upstream.host, upstream.port, timeout=left, tcp=True)
            answer = parse_response(data)
            check_answer(outgoing, answer)
        answer.header.id = query.header.id
        answer.header.rd = query.header.rd
        answer.header.ra = 1
        answer.header.aa = 0
        return answer


async def serve(config: ResolverConfig) -> None:
    """Run the resolver until cancelled."""
    from services.dns import DNSServer

    resolver = IslandResolver(config)
    server = DNSServer(resolver.handle, config.listen.host, config.listen.port)
    await server.start()
    try:
        await asyncio.Event().wait()
    finally:
        await server.stop()
