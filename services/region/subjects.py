"""Names in the region: islands, subjects, JetStream domains, streams and consumers.

An island publishes its events only under `region.<island>.` (the hub enforces it) into its own
stream. The hub relays what it read from each island's stream, and publishes its own, under
`relay.<origin>.` into its stream, which every island reads. One JetStream domain per island
(its name) and `hub` for the hub.
"""

from __future__ import annotations

import re

HUB = "hub"
PREFIX = "region"  # an island's own events, in its own stream
RELAY = "relay"  # everything at the hub's stream: the hub's own events and the islands' relayed
REGISTRY = "registry"  # safe-and-well events: notes and deletions
MESSAGES = "messages"  # crisis messages: the hub's to every island, an island's up to the hub

REGION_STREAM = "REGION"  # at the hub
HUB_CONSUMER = "hub"  # the hub's durable consumer on each island's stream

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


def check_island_name(name: str) -> str:
    """An island's name is its subject token, its JetStream domain and part of its stream's name."""
    if not _NAME.match(name) or name == HUB:
        raise ValueError(f"bad island name {name!r}: a-z, 0-9 and _, starting with a letter, not 'hub'")
    return name


def subject(origin: str, kind: str) -> str:
    return f"{PREFIX}.{origin}.{kind}"


def relayed(origin: str, kind: str) -> str:
    return f"{RELAY}.{origin}.{kind}"


def island_consumer(island: str) -> str:
    """An island's durable consumer on the hub's stream (its permissions name it)."""
    return f"island_{island}"


def all_of(origin: str) -> str:
    return f"{PREFIX}.{origin}.>"


def island_stream(island: str) -> str:
    return f"ISLAND_{island}"


def js_api(domain: str) -> str:
    return f"$JS.{domain}.API"


def origin_of(subject_name: str) -> tuple[str, str] | None:
    """(origin, kind) of a region subject (`region.` or `relay.`), or None if it is not one."""
    parts = subject_name.split(".")
    if len(parts) != 3 or parts[0] not in (PREFIX, RELAY):
        return None
    return parts[1], parts[2]
