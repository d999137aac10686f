"""The resolver's counters and latency histograms, in Prometheus text format.

Each resolver has its own registry (tests run several in one process); ``serve``
exposes it over HTTP, which is also where `island status` reads the upstreams' state.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

UPSTREAM_STATES = ("up", "suspect", "down")
_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 1.8, 2.5, 5.0)


SOURCES = ("local", "cache", "upstream", "stale", "none", "refused")
RCODE_NAMES = (
    "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET",
    "NXRRSET", "NOTAUTH", "NOTZONE", "RCODE11", "RCODE12", "RCODE13", "RCODE14", "RCODE15",
)


class HotCounts(Collector):
    """Counters bumped on every query: plain integers (a Prometheus Counter takes a lock per
    increment, which the fast path cannot afford), exported as counters when scraped."""

    def __init__(self) -> None:
        self.queries = {"udp": 0, "tcp": 0}
        self.rcodes = [0] * 16
        self.sources = dict.fromkeys(SOURCES, 0)
        self.cache_hits = 0

    def collect(self):
        queries = CounterMetricFamily("island_resolver_queries", "Queries received", labels=["transport"])
        for transport, n in self.queries.items():
            queries.add_metric([transport], n)
        answers = CounterMetricFamily("island_resolver_answers", "Answers sent, by rcode", labels=["rcode"])
        for code, n in enumerate(self.rcodes):
            if n or code in (0, 2, 3, 5):
                answers.add_metric([RCODE_NAMES[code]], n)
        sources = CounterMetricFamily(
            "island_resolver_answer_source",
            "Where answers came from: local zone, cache, upstream, stale cache, none (SERVFAIL), refused client",
            labels=["source"],
        )
        for source, n in self.sources.items():
            sources.add_metric([source], n)
        hits = CounterMetricFamily("island_resolver_cache_hits", "Answers served from fresh cache", value=self.cache_hits)
        return [queries, answers, sources, hits]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.hot = HotCounts()
        r.register(self.hot)
        self.cache_misses = Counter("island_resolver_cache_misses", "Questions not in fresh cache", registry=r)
        self.stale_answers = Counter("island_resolver_stale_answers", "Expired answers served (RFC 8767)", registry=r)
        self.prefetches = Counter("island_resolver_prefetches", "Popular entries refreshed before expiry", registry=r)
        self.coalesced = Counter(
            "island_resolver_coalesced", "Queries that joined an identical upstream query already in flight", registry=r
        )
        self.refused = Counter("island_resolver_refused", "Queries refused: client not in an allowed network", registry=r)
        self.rate_limited = Counter(
            "island_resolver_rate_limited", "Queries over the response-rate limit", ["action"], registry=r
        )
        self.cache_entries = Gauge("island_resolver_cache_entries", "Answers in the cache", registry=r)
        self.latency = Histogram(
            "island_resolver_response_seconds",
            "Time to answer a query that took the full path, by answer source",
            ["source"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.upstream_latency = Histogram(
            "island_resolver_upstream_seconds", "Upstream round trips that got an answer", ["upstream"],
            buckets=_LATENCY_BUCKETS, registry=r,
        )
        self.upstream_state = Gauge(
            "island_resolver_upstream_state", "1 for the state each upstream is in", ["upstream", "state"], registry=r
        )
        self.upstream_changes = Counter(
            "island_resolver_upstream_state_changes", "Upstream state changes, by new state", ["upstream", "state"],
            registry=r,
        )

    def set_upstream_state(self, upstream: str, state: str, *, changed: bool) -> None:
        for name in UPSTREAM_STATES:
            self.upstream_state.labels(upstream, name).set(1 if name == state else 0)
        if changed:
            self.upstream_changes.labels(upstream, state).inc()

    def serve(self, host: str, port: int):
        """Serve /metrics over HTTP from a daemon thread; returns (server, thread)."""
        return start_http_server(port, addr=host, registry=self.registry)


def upstream_states(metrics_text: str) -> dict[str, str]:
    """Each upstream's state, read back from the metrics text (for `island status`)."""
    states: dict[str, str] = {}
    for family in text_string_to_metric_families(metrics_text):
        if family.name != "island_resolver_upstream_state":
            continue
        for sample in family.samples:
            if sample.value == 1:
                states[sample.labels["upstream"]] = sample.labels["state"]
    return states
