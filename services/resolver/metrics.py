"""The resolver's counters and latency histograms, in Prometheus text format.

Each resolver has its own registry (tests run several in one process); ``serve``
exposes it over HTTP, which is also where `island status` reads the upstreams' state.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

UPSTREAM_STATES = ("up", "suspect", "down")
_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 1.8, 2.5, 5.0)


SOURCES = ("local", "cache", "upstream", "stale", "none", "refused")
RCODE_NAMES = (
    "NOERROR",
    "FORMERR",
    "SERVFAIL",
    "NXDOMAIN",
    "NOTIMP",
    "REFUSED",
    "YXDOMAIN",
    "YXRRSET",
    "NXRRSET",
    "NOTAUTH",
    "NOTZONE",
    "RCODE11",
    "RCODE12",
    "RCODE13",
    "RCODE14",
    "RCODE15",
)


def fast_slot(source: str, rcode: int) -> int:
    """Where the fast path counts an answer from ``source`` with ``rcode``: one list item per answer."""
    return SOURCES.index(source) * 16 + (rcode & 0xF)


class HotCounts(Collector):
    """Counters bumped on every query: plain integers (a Prometheus Counter takes a lock per
    increment, which the fast path cannot afford), exported as counters when scraped.

    The full path counts sources and rcodes apart; the fast path bumps one item of
    ``fast`` per answer (see :func:`fast_slot`), added in when scraped.
    """

    def __init__(self) -> None:
        self.queries = {"udp": 0, "tcp": 0}
        self.rcodes = [0] * 16
        self.sources = dict.fromkeys(SOURCES, 0)
        self.fast = [0] * (16 * len(SOURCES))
        self.cache_hits = 0
        # Over the response-rate limit: dropped, slipped (TC), or dropped over the work limit.
        self.rate_limited = {"drop": 0, "slip": 0, "work": 0}

    def source_counts(self) -> dict[str, int]:
        fast = self.fast
        return {s: n + sum(fast[i * 16 : (i + 1) * 16]) for i, (s, n) in enumerate(self.sources.items())}

    def rcode_counts(self) -> list[int]:
        fast = self.fast
        return [n + sum(fast[code::16]) for code, n in enumerate(self.rcodes)]

    def collect(self) -> list[Metric]:
        queries = CounterMetricFamily("island_resolver_queries", "Queries received", labels=["transport"])
        for transport, n in self.queries.items():
            queries.add_metric([transport], n)
        answers = CounterMetricFamily("island_resolver_answers", "Answers sent, by rcode", labels=["rcode"])
        for code, n in enumerate(self.rcode_counts()):
            if n or code in (0, 1, 2, 3, 5):
                answers.add_metric([RCODE_NAMES[code]], n)
        sources = CounterMetricFamily(
            "island_resolver_answer_source",
            "Where answers came from: local zone, cache, upstream, stale cache, none (SERVFAIL), refused client",
            labels=["source"],
        )
        for source, n in self.source_counts().items():
            sources.add_metric([source], n)
        hits = CounterMetricFamily(
            "island_resolver_cache_hits", "Answers served from fresh cache", value=self.cache_hits
        )
        limited = CounterMetricFamily(
            "island_resolver_rate_limited",
            "Queries over a rate limit: dropped, slipped (TC) or over the work limit (dropped)",
            labels=["action"],
        )
        for action, n in self.rate_limited.items():
            limited.add_metric([action], n)
        return [queries, answers, sources, hits, limited]


class LatencyHistogram(Collector):
    """Response time by answer source, in plain integers (no lock per observation).

    The fast path observes once per batch of answers, with the batch's time from its
    receive to its send: an upper bound for each answer in it.
    """

    def __init__(self, name: str, documentation: str, buckets: tuple[float, ...]) -> None:
        self.name, self.documentation = name, documentation
        self._bounds = tuple(sorted(buckets))
        self._counts: dict[str, list[int]] = {}
        self._sums: dict[str, float] = {}

    def observe(self, source: str, seconds: float, count: int = 1) -> None:
        counts = self._counts.get(source)
        if counts is None:
            self._sums[source] = 0.0  # before the counts: a scrape that sees the counts finds the sum
            counts = self._counts[source] = [0] * (len(self._bounds) + 1)
        counts[bisect_left(self._bounds, seconds)] += count  # a bucket holds values <= its bound
        self._sums[source] += seconds * count

    def collect(self) -> list[Metric]:
        family = HistogramMetricFamily(self.name, self.documentation, labels=["source"])
        # A snapshot: scrapes run in the metrics thread while the event loop may add a source.
        for source, counts in list(self._counts.items()):
            counts = list(counts)
            cumulative, buckets = 0, []
            for bound, n in zip(self._bounds + (float("inf"),), counts):
                cumulative += n
                buckets.append(("+Inf" if bound == float("inf") else repr(bound), cumulative))
            family.add_metric([source], buckets, self._sums[source])
        return [family]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.hot = HotCounts()
        r.register(self.hot)
        self.cache_misses = Counter(
            "island_resolver_cache_misses", "Questions not in fresh cache", registry=r
        )
        self.stale_answers = Counter(
            "island_resolver_stale_answers", "Expired answers served (RFC 8767)", registry=r
        )
        self.prefetches = Counter(
            "island_resolver_prefetches", "Popular entries refreshed before expiry", registry=r
        )
        self.coalesced = Counter(
            "island_resolver_coalesced",
            "Queries that joined an identical upstream query already in flight",
            registry=r,
        )
        self.refused = Counter(
            "island_resolver_refused", "Queries refused: client not in an allowed network", registry=r
        )
        self.bad_packets = Counter(
            "island_resolver_bad_packets",
            "Packets refused before parsing (malformed), internal errors (handler, pack) and TCP "
            "connections over a cap (tcp_refused): counted, not logged one by one",
            ["kind"],
            registry=r,
        )
        self.cache_entries = Gauge("island_resolver_cache_entries", "Answers in the cache", registry=r)
        self.latency = LatencyHistogram(
            "island_resolver_response_seconds",
            "Time to answer a query, by answer source (fast-path answers: their batch's time, an upper bound)",
            _LATENCY_BUCKETS,
        )
        r.register(self.latency)
        self.upstream_latency = Histogram(
            "island_resolver_upstream_seconds",
            "Upstream round trips that got an answer",
            ["upstream"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.upstream_state = Gauge(
            "island_resolver_upstream_state",
            "1 for the state each upstream is in",
            ["upstream", "state"],
            registry=r,
        )
        self.upstream_changes = Counter(
            "island_resolver_upstream_state_changes",
            "Upstream state changes, by new state",
            ["upstream", "state"],
            registry=r,
        )

        self.island_mode = Gauge(
            "island_resolver_island_mode",
            "1 while every upstream is down and phones' connectivity checks go to the portal",
            registry=r,
        )

    def set_upstream_state(self, upstream: str, state: str, *, changed: bool) -> None:
        for name in UPSTREAM_STATES:
            self.upstream_state.labels(upstream, name).set(1 if name == state else 0)
        if changed:
            self.upstream_changes.labels(upstream, state).inc()

    def serve(self, host: str, port: int) -> tuple[WSGIServer, threading.Thread]:
        """Serve /metrics over HTTP from a daemon thread; returns (server, thread)."""
        return start_http_server(port, addr=host, registry=self.registry)


def island_mode(metrics_text: str) -> bool | None:
    """Whether the resolver is in island mode, read back from its metrics text (None: not configured)."""
    for family in text_string_to_metric_families(metrics_text):
        if family.name == "island_resolver_island_mode":
            return any(sample.value == 1 for sample in family.samples)
    return None


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
