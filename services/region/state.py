"""A replicator's state as people and machines read it: JSON (island status, the editors' page)
and Prometheus metrics."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class ReplicationState:
    place: str  # an island's name, or "hub"
    connected: bool = False  # the link to the hub is up (at the hub: at least one island connected)
    links: int = 0  # leaf-node connections of this place's server
    lag: int = 0  # events the hub has that this place has not applied yet (its mirror's lag + pending)
    outbox: int = 0  # local writes not yet in this place's own stream
    last_exchange: float | None = None  # when an event last went out or came in (epoch seconds)
    applied: dict[str, int] = field(default_factory=dict)
    unchanged: int = 0
    refused: int = 0
    quarantined: int = 0
    published: int = 0
    # At the hub: each island's link as the hub sees it (connected, lag, last_exchange), for the
    # editors' page and the metrics; empty at an island.
    islands: dict[str, dict[str, object]] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return asdict(self)

    def to_prometheus(self) -> str:
        label = f'place="{self.place}"'
        lines = [
            "# HELP region_connected 1 while the link to the hub is up.",
            "# TYPE region_connected gauge",
            f"region_connected{{{label}}} {int(self.connected)}",
            "# HELP region_lag_events Events the hub has that this place has not applied yet.",
            "# TYPE region_lag_events gauge",
            f"region_lag_events{{{label}}} {self.lag}",
            "# HELP region_outbox_events Local writes not yet in this place's stream.",
            "# TYPE region_outbox_events gauge",
            f"region_outbox_events{{{label}}} {self.outbox}",
            "# HELP region_last_exchange_seconds When an event last went out or came in (Unix time).",
            "# TYPE region_last_exchange_seconds gauge",
            f"region_last_exchange_seconds{{{label}}} {self.last_exchange or 0}",
            "# HELP region_events_published_total Local events stored in this place's stream.",
            "# TYPE region_events_published_total counter",
            f"region_events_published_total{{{label}}} {self.published}",
            "# HELP region_events_applied_total Events from elsewhere applied here, by kind.",
            "# TYPE region_events_applied_total counter",
        ]
        lines += [
            f'region_events_applied_total{{{label},kind="{kind}"}} {n}'
            for kind, n in sorted(self.applied.items())
        ]
        lines += [
            "# HELP region_events_refused_total Events refused and kept aside in the quarantine.",
            "# TYPE region_events_refused_total counter",
            f"region_events_refused_total{{{label}}} {self.refused}",
            "# HELP region_quarantine_events Refused events waiting for an operator.",
            "# TYPE region_quarantine_events gauge",
            f"region_quarantine_events{{{label}}} {self.quarantined}",
        ]
        if self.islands:
            lines += _per_island(label, self.islands)
        return "\n".join(lines) + "\n"


def _per_island(label: str, islands: dict[str, dict[str, object]]) -> list[str]:
    """The hub's view of each island: its leaf-node link, its events the hub has not read, the last exchange."""
    lines = [
        "# HELP region_island_connected 1 while the island's leaf-node link to the hub is up (at the hub).",
        "# TYPE region_island_connected gauge",
    ]
    lines += [
        f'region_island_connected{{{label},island="{n}"}} {int(bool(i["connected"]))}'
        for n, i in islands.items()
    ]
    lines += [
        "# HELP region_island_lag_events The island's events the hub has not read yet (-1: unknown, cut off).",
        "# TYPE region_island_lag_events gauge",
    ]
    lag = {n: i["lag"] if isinstance(i["lag"], int) else -1 for n, i in islands.items()}
    lines += [f'region_island_lag_events{{{label},island="{n}"}} {v}' for n, v in lag.items()]
    lines += [
        "# HELP region_island_last_exchange_seconds When the hub last received from the island (Unix time).",
        "# TYPE region_island_last_exchange_seconds gauge",
    ]
    lines += [
        f'region_island_last_exchange_seconds{{{label},island="{n}"}} {i["last_exchange"] or 0}'
        for n, i in islands.items()
    ]
    return lines
