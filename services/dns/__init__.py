"""DNS building blocks shared by the island resolver and the simulated upstream.

Wire format (dnslib) lives in :mod:`wire`, zone data in :mod:`zone`, the asyncio
server in :mod:`server` and the client side (forwarding, probes) in :mod:`client`.
Resolution policy lives with each service, never here.
"""

from .client import DNSExchangeError, DNSRefused, DNSTimeout, exchange, query
from .server import DNSServer, Handler
from .wire import MalformedPacket, parse_query, reply_to, servfail
from .zone import Lookup, Zone, ZoneError, Zones

__all__ = [
    "DNSExchangeError",
    "DNSRefused",
    "DNSServer",
    "DNSTimeout",
    "Handler",
    "Lookup",
    "MalformedPacket",
    "Zone",
    "ZoneError",
    "Zones",
    "exchange",
    "parse_query",
    "query",
    "reply_to",
    "servfail",
]
