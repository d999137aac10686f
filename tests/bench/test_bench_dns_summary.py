"""The DNS benchmark's parsing and summary code (the benchmark itself runs with `make bench-dns`)."""

from __future__ import annotations

import random

import pytest
from dnslib import DNSLabel

from bench.dns.run import (
    ZONE,
    island_config,
    local_queries,
    mixed_queries,
    parse_latencies,
    parse_summary,
    percentile,
    summary_line,
    unbound_config,
)
from services.resolver import IslandResolver, ResolverConfig

# Real dnsperf 2.10 output (-v), shortened.
DNSPERF_OUTPUT = """\
DNS Performance Testing Tool
Version 2.10.0

[Status] Command line: dnsperf -s 127.77.0.9 -p 5399 -d q.txt -n 2 -v
> NOERROR krisinfo.kommun.example A 0.018797
> NXDOMAIN nosuch1.krisinfo.kommun.example A 0.000210
> SERVFAIL www12.bank.example A 1.500311
> NOERROR KrisInfo.kommun.example. AAAA 0.000150
[Status] Testing complete (end of file)

Statistics:

  Queries sent:         4
  Queries completed:    4 (100.00%)
  Queries lost:         0 (0.00%)

  Response codes:       NOERROR 2 (50.00%), NXDOMAIN 1 (25.00%), SERVFAIL 1 (25.00%)
  Run time (s):         0.018851
  Queries per second:   106.095167
"""


def test_summary_figures_are_read_from_dnsperf_output() -> None:
    result = parse_summary(DNSPERF_OUTPUT)
    assert (result.sent, result.completed, result.lost) == (4, 4, 0)
    assert result.qps == pytest.approx(106.095167)


def test_output_without_statistics_is_an_error_not_a_zero() -> None:
    with pytest.raises(ValueError, match="Queries per second"):
        parse_summary("[Status] dnsperf: could not connect")


def test_latencies_are_taken_for_the_local_zone_only() -> None:
    assert parse_latencies(DNSPERF_OUTPUT, ZONE) == [0.018797, 0.000210, 0.000150]


def test_percentile_and_summary_line() -> None:
    values = [i / 1000 for i in range(1, 101)]
    assert percentile(values, 99) == 0.099
    assert percentile(values, 50) == 0.050
    assert summary_line(52000, 40000) == "dns local-zone qps: island=52000 unbound=40000 ratio=1.30"


def test_both_servers_get_the_same_zone() -> None:
    config = ResolverConfig.model_validate(island_config("127.0.0.1", 5300, ("127.0.0.2", 5300)))
    zone = IslandResolver(config).zones.find(DNSLabel(ZONE))
    text = unbound_config("127.0.0.1", 5300, "/tmp")
    for query in local_queries():
        name, rtype = query.split()
        assert name.endswith(ZONE)
    for line in text.splitlines():
        if "local-data:" in line:
            name = line.split('"')[1].split()[0]
            assert zone.lookup(name, 1 if " A " in line else 6).answer, name
    mixed = mixed_queries(random.Random(1), 1000)
    outside = [q for q in mixed if "bank.example" in q]
    assert 50 <= len(outside) <= 150


def test_summary_line_takes_the_runs_paired_ratio() -> None:
    assert summary_line(50000, 40000, 1.07) == "dns local-zone qps: island=50000 unbound=40000 ratio=1.07"
