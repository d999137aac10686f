"""A region's replication state as `island status` shows it: one line per place, the hub first."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def describe_replication(places: dict[str, dict[str, Any]] | None) -> list[str]:
    if not places:
        return []
    lines = ["  region (replication over NATS; lag = events not yet applied here):"]
    for place, s in places.items():
        connected = "connected" if s.get("connected") else "NOT CONNECTED"
        link = f", link {s['link']}" if "link" in s else ""
        lag = "?" if s.get("lag") is None else str(s["lag"])
        last = s.get("last_exchange")
        when = (
            datetime.fromtimestamp(last, UTC).strftime("%H:%M:%S UTC")
            if isinstance(last, int | float)
            else "never"
        )
        lines.append(f"    {place:<6} {connected:<13} lag {lag:>4}, last exchange {when}{link}")
    return lines
