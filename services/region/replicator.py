"""The replicator: one process per island, and one at the hub, between its SQLite and nats-server.

At an island. Out: the registry's outbox (and the island's own crisis messages) are published
into the island's own stream on its own server, so publishing works with the hub unreachable.
In: the island's durable consumer on the hub's stream is read across the leaf-node link and
applied event by event, acknowledged after applying.

At the hub. Each island's stream is read through the hub's durable consumer in that island's
domain; every event is checked and applied at the hub, relayed into the hub's stream (deduplicated
by its id), and only then acknowledged. The hub's own writes and crisis messages go straight into
its stream. A crash anywhere re-applies at most a batch, and applying twice changes nothing.
"""

from __future__ import annotations

import asyncio
import functools
import json
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import nats
from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext

from services.crisis_site.content import Message
from services.crisis_site.registry import Registry
from services.crisis_site.store import Store
from services.region import events, streams, subjects
from services.region.applier import MESSAGE_PREFIX, Applier
from services.region.outbox import Deletion, Outbox
from services.region.plan import Region
from services.region.quarantine import Quarantine
from services.region.state import ReplicationState

BATCH = 256
FETCH_WAIT = 1.0  # seconds a fetch waits for new events (a long poll: an event arriving ends it)
PUBLISH_EVERY = 0.01  # seconds between looks at the outbox (a cheap check of SQLite's data_version)
_LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class Place:
    """Where a replicator runs: `here` is an island's name or "hub"."""

    here: str
    region: Region
    registry_path: str
    store_path: str | None = None  # the crisis site's content, for crisis messages (None: registry only)
    user: str | None = None  # this place's own clients log in to its server
    password: str | None = None

    @property
    def is_hub(self) -> bool:
        return self.here == subjects.HUB

    @property
    def servers(self) -> list[str]:
        if self.is_hub:
            return [f"nats://{n.host}:{n.client_port}" for n in self.region.hub]
        island = self.region.island(self.here)
        return [f"nats://{island.host}:{island.client_port}"]

    @property
    def monitors(self) -> list[str]:
        """Where this place's servers report their leaf-node links (every hub node)."""
        if self.is_hub:
            return [f"{n.host}:{n.monitor_port}" for n in self.region.hub]
        island = self.region.island(self.here)
        return [f"{island.host}:{island.monitor_port}"]


def save_message(store: Store) -> Callable[[Message], bool]:
    """Keep a crisis message from elsewhere on this place's page; True if it changed anything."""

    def save(message: Message) -> bool:
        if store.message(message.identifier) == message:
            return False
        store.save_island_message(message, "(region)", "region", f"from the region: {message.sender}"[:200])
        return True

    return save


class Replicator:
    def __init__(self, place: Place) -> None:
        self.place = place
        self.registry = Registry(place.registry_path, ttl=place.region.retention)
        self.outbox = Outbox(place.registry_path)
        self.quarantine = Quarantine(place.registry_path)
        self.store = Store(place.store_path) if place.store_path else None
        self.applier = Applier(
            place.here,
            self.registry,
            self.quarantine,
            place.region.display_names(),
            save_message(self.store) if self.store else None,
        )
        self.state = ReplicationState(place.here)
        self._published_messages: set[str] = set()
        self.nc: Client | None = None
        self.js: JetStreamContext | None = None  # this place's own JetStream
        # What this place reads: at an island the hub's stream, at the hub every island's stream.
        self._inbound: dict[str, JetStreamContext.PullSubscription] = {}
        self._last_from: dict[str, float] = {}  # source -> when an event last came from it
        self._stopping = False

    async def connect(self) -> None:
        self.nc = await nats.connect(
            self.place.servers,
            user=self.place.user,
            password=self.place.password,
            name=f"replicator-{self.place.here}",
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
            connect_timeout=2,
        )
        self.js = self.nc.jetstream()
        if self.place.is_hub:
            await streams.ensure(self.js, streams.hub_stream(self.place.region))
        else:
            await streams.ensure(self.js, streams.island_stream(self.place.region, self.place.here))

    async def close(self) -> None:
        if self.nc is not None:
            await self.nc.close()
        self.registry.close()
        self.outbox.close()
        self.quarantine.close()
        if self.store is not None:
            self.store.close()

    # Out ------------------------------------------------------------------------------------
    async def publish_pending(self) -> int:
        """Put this place's new writes into its own stream; returns how many were stored."""
        entries = self.outbox.pending(BATCH)
        sent = 0
        for entry in entries:
            if isinstance(entry, Deletion):
                if (
                    entry.expires <= self.registry.now()
                ):  # expired, not deleted: expiry is the same everywhere
                    self.outbox.done([entry.row])
                    continue
                event: events.Event = events.deletion(self.place.here, entry.code_hash, entry.expires)
            else:
                event = events.note(self.place.here, entry.record, entry.update)
            await self._publish(events.subject_for(event), events.encode(event), event.id)
            self.outbox.done([entry.row])
            sent += 1
        for message in self._own_messages():
            event = events.crisis_message(self.place.here, message)
            if event.id not in self._published_messages:
                await self._publish(events.subject_for(event), events.encode(event), event.id)
                self._published_messages.add(event.id)
                sent += 1
        if sent:
            self.state.published += sent
            self.state.last_exchange = time.time()
        return sent

    async def _publish(self, subject: str, data: bytes, event_id: str) -> None:
        assert self.js is not None
        await self.js.publish(subject, data, headers={"Nats-Msg-Id": event_id}, timeout=5)

    def _own_messages(self) -> list[Message]:
        """Crisis messages written (or, at the hub, also synced) here, not those that came through
        the region."""
        if self.store is None:
            return []
        origin = None if self.place.is_hub else "island"
        return [m for m in self.store.messages(origin) if not m.identifier.startswith(MESSAGE_PREFIX)]

    # In ---------------------------------------------------------------------------------------
    def _sources(self) -> dict[str, tuple[str, str, str, str]]:
        """What this place reads: name -> (domain, stream, durable consumer, filter subject)."""
        if self.place.is_hub:
            return {
                i.name: (
                    i.name,
                    subjects.island_stream(i.name),
                    subjects.HUB_CONSUMER,
                    subjects.all_of(i.name),
                )
                for i in self.place.region.islands
            }
        return {
            subjects.HUB: (
                subjects.HUB,
                subjects.REGION_STREAM,
                subjects.island_consumer(self.place.here),
                f"{subjects.RELAY}.>",
            )
        }

    async def _subscription(self, source: str) -> JetStreamContext.PullSubscription | None:
        """The durable consumer on `source`'s stream, made once that place can be reached."""
        if source in self._inbound:
            return self._inbound[source]
        assert self.nc is not None
        domain, stream, durable, filter_subject = self._sources()[source]
        js = self.nc.jetstream(domain=domain, timeout=2)
        try:
            sub = await js.pull_subscribe(
                filter_subject,
                durable=durable,
                stream=stream,
                config=streams.consumer(durable, filter_subject),
            )
        except (NatsError, TimeoutError):
            return None  # not reachable now (a cut link): tried again next round
        self._inbound[source] = sub
        return sub

    async def _apply_from(self, source: str) -> int:
        sub = await self._subscription(source)
        if sub is None:
            return 0
        try:
            batch = await sub.fetch(BATCH, timeout=FETCH_WAIT)
        except (NatsTimeout, TimeoutError):
            return 0
        except NatsError:  # that place cut off (no responders): the others go on
            await asyncio.sleep(FETCH_WAIT)
            return 0
        if not batch:  # only status messages came back (a leader election at the hub)
            return 0
        received = [(m.subject, m.data, m.metadata.sequence.stream) for m in batch]
        outcomes = await asyncio.to_thread(self._apply_all, received)
        if self.place.is_hub:  # relay what the hub accepted, so every island gets it
            for (subject, data, _), outcome in zip(received, outcomes, strict=True):
                if outcome != "refused":
                    origin, kind = subjects.origin_of(subject) or ("", "")
                    event_id = json.loads(data)["id"]
                    await self._publish(subjects.relayed(origin, kind), data, event_id)
        # Each one, once applied (and relayed); an event this batch skipped past is not acknowledged.
        await asyncio.gather(*(m.ack() for m in batch))
        self.state.last_exchange = self._last_from[source] = time.time()
        return len(batch)

    def _apply_all(self, received: Sequence[tuple[str, bytes, int | None]]) -> list[str]:
        return self.applier.apply_batch(received)

    # State --------------------------------------------------------------------------------------
    async def refresh_state(self) -> ReplicationState:
        assert self.js is not None and self.nc is not None
        s = self.state
        leaves = await asyncio.to_thread(self._leaf_names)
        s.links = len(leaves)
        s.connected = s.links > 0
        lag = 0
        for source, (domain, stream, durable, _) in self._sources().items():
            pending: int | None = None
            if source in self._inbound and s.connected:
                try:
                    info = await self.nc.jetstream(domain=domain, timeout=1).consumer_info(stream, durable)
                    pending = info.num_pending or 0
                    lag += pending
                except (NatsError, TimeoutError):
                    pass
            if self.place.is_hub:  # the editors' page at the hub shows each island's link
                s.islands[source] = {
                    "display": self.place.region.island(source).display,
                    "connected": f"island-{source}" in leaves,
                    "lag": pending,
                    "last_exchange": self._last_from.get(source),
                }
        if not self.place.is_hub:  # this island's events the hub has not read yet
            try:
                up = await self.js.consumer_info(
                    subjects.island_stream(self.place.here), subjects.HUB_CONSUMER
                )
                lag += up.num_pending or 0
            except (NatsError, TimeoutError):
                lag += 0  # the hub has not made its consumer yet
        s.lag = lag
        s.outbox = self.outbox.size()
        totals = self.applier.totals
        s.applied = dict(totals.applied)
        s.unchanged, s.refused = totals.unchanged, totals.refused
        self.quarantine.purge_older_than(self.registry.now() - self.place.region.retention)
        s.quarantined = self.quarantine.count()
        return s

    def _leaf_names(self) -> list[str]:
        """The server names at the far end of this place's leaf-node links (island-<name>, hub-<node>)."""
        names: list[str] = []
        for monitor in self.place.monitors:
            try:
                with _LOCAL.open(f"http://{monitor}/leafz", timeout=1) as answer:
                    names += [
                        str(leaf.get("name", "")) for leaf in json.loads(answer.read()).get("leafs", [])
                    ]
            except (OSError, ValueError):
                continue  # that node is down: the others count
        return names

    async def run(self, stop: asyncio.Event, state_every: float = 1.0) -> None:
        """Until `stop`: publish local writes, read every source, refresh the state, each in its own
        loop so that a long poll on one never delays another."""

        async def publishing() -> None:
            seen: tuple[int, int] | None = None
            while not self._stopping:
                version = (self.outbox.data_version(), self.store.version if self.store else 0)
                if version != seen:  # a write since the last look
                    seen = version
                    while await self.publish_pending():
                        pass
                await asyncio.sleep(PUBLISH_EVERY)

        async def reading(source: str) -> None:
            while not self._stopping:
                if not await self._apply_from(source):
                    await asyncio.sleep(0.01)

        async def reporting() -> None:
            while not self._stopping:
                await self.refresh_state()
                await asyncio.sleep(state_every)

        loops: list[Callable[[], Awaitable[None]]] = [publishing, reporting]
        loops += [functools.partial(reading, source) for source in self._sources()]
        tasks = [asyncio.create_task(self._forever(loop)) for loop in loops]
        try:
            await stop.wait()
        finally:
            self._stopping = True  # nats-py may turn a cancelled wait into its own TimeoutError
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _forever(self, loop: Callable[[], Awaitable[None]]) -> None:
        """Run one loop; a failed round (our own server restarting, a bad answer) is retried, never
        the end: the outbox row stays until stored, the consumer redelivers what was not acknowledged."""
        while not self._stopping:
            try:
                await loop()
                return
            except asyncio.CancelledError:
                raise
            except (NatsError, TimeoutError, OSError):
                pass
            except Exception as exc:  # noqa: BLE001 - the replicator outlives any one bad round
                print(f"region replicator {self.place.here}: {exc!r}", file=sys.stderr, flush=True)
            await asyncio.sleep(0.5)
