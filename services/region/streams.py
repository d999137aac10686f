"""The region's JetStream streams and consumers, made (or brought up to date) from the Region.

- At each island, `ISLAND_<name>`: the island's own events (`region.<name>.>`), written locally,
  so an island cut off from the hub keeps publishing.
- At the hub, `REGION`: the hub's own events and every island's, relayed (`relay.<origin>.>`).
- The hub reads each island's stream through a durable consumer `hub` in that island's domain;
  each island reads `REGION` through its own durable consumer `island_<name>` in the hub's domain.
  Durable: after a cut both sides resume exactly where they stopped.

Every stream keeps messages for the registry's lifetime and no longer (data minimisation). The
hub's stream drops a message whose `Nats-Msg-Id` it has already stored within a day, so an
island's events relayed twice (a crash between relaying and acknowledging) are stored once.
"""

from __future__ import annotations

from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from services.region import subjects
from services.region.plan import Region

DUPLICATE_WINDOW = 120.0  # seconds, at an island: a publisher's retry after a reconnect
HUB_DUPLICATE_WINDOW = 24 * 3600.0  # at the hub: relays after a long cut


def island_stream(region: Region, island: str) -> StreamConfig:
    return StreamConfig(
        name=subjects.island_stream(island),
        subjects=[subjects.all_of(island)],
        max_age=region.retention,
        duplicate_window=min(DUPLICATE_WINDOW, region.retention),
        storage=StorageType.FILE,
    )


def hub_stream(region: Region) -> StreamConfig:
    return StreamConfig(
        name=subjects.REGION_STREAM,
        subjects=[f"{subjects.RELAY}.>"],
        max_age=region.retention,
        duplicate_window=min(HUB_DUPLICATE_WINDOW, region.retention),
        storage=StorageType.FILE,
        num_replicas=region.replicas,
    )


# How long a delivered event may go unacknowledged before the server delivers it again. A link cut
# while an answer to a fetch is on its way loses that answer (the server counts it delivered): it
# comes again after this, at the first fetch once the link is back.
ACK_WAIT = 5.0


def consumer(name: str, filter_subject: str) -> ConsumerConfig:
    """A durable pull consumer that starts at the beginning; each event is acknowledged by itself
    once applied. Not AckPolicy.ALL: acknowledging a later event would also acknowledge one whose
    delivery was lost in a cut (seen on netns: a registration and a hub message never arrived)."""
    return ConsumerConfig(
        durable_name=name,
        filter_subject=filter_subject,
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL,
        max_ack_pending=4096,
        ack_wait=ACK_WAIT,
    )


async def ensure(js: JetStreamContext, config: StreamConfig) -> None:
    """Make the stream, or update it to `config`."""
    assert config.name is not None
    try:
        await js.stream_info(config.name)
    except NotFoundError:
        await js.add_stream(config)
        return
    await js.update_stream(config)
