"""The latency histogram kept in plain integers reads like a Prometheus histogram when scraped."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from services.resolver.metrics import LatencyHistogram


def test_observations_land_in_cumulative_buckets_with_counts_and_sums() -> None:
    registry = CollectorRegistry()
    histogram = LatencyHistogram("t_seconds", "test", (0.001, 0.01))
    registry.register(histogram)
    histogram.observe("local", 0.0002, count=30)  # one batch of 30 fast answers
    histogram.observe("local", 0.001)  # on a bound: in that bucket
    histogram.observe("local", 0.5)
    histogram.observe("upstream", 0.005)
    text = generate_latest(registry).decode()
    lines = {line.split(" ")[0]: float(line.split(" ")[1]) for line in text.splitlines() if line[:1] != "#"}
    assert lines['t_seconds_bucket{le="0.001",source="local"}'] == 31
    assert lines['t_seconds_bucket{le="0.01",source="local"}'] == 31
    assert lines['t_seconds_bucket{le="+Inf",source="local"}'] == 32
    assert lines['t_seconds_count{source="local"}'] == 32
    assert abs(lines['t_seconds_sum{source="local"}'] - (0.006 + 0.001 + 0.5)) < 1e-9
    assert lines['t_seconds_bucket{le="0.001",source="upstream"}'] == 0
    assert lines['t_seconds_bucket{le="0.01",source="upstream"}'] == 1
