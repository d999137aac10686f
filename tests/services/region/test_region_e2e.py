"""A region on loopback with real nats-server processes: 1 hub + 2 islands, replicators in-process."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import nats
import pytest
from region_helpers import RunningReplicator, eventually, plan, start_region

from services.crisis_site.content import Info, Message
from services.crisis_site.registry import Registry
from services.crisis_site.store import Store

pytestmark = pytest.mark.e2e


@pytest.fixture
def region(tmp_path):
    running = start_region(plan(["a", "b"]), tmp_path)
    yield running
    running.stop()


def found(registry: Registry, name: str, phone: str) -> list[list[str]]:
    """What a relative sees for name + phone: each record's messages' presets."""
    return [[p for u in f.updates for p in u.presets] for f in registry.lookup(name, phone)]


async def test_a_registration_at_one_island_is_found_at_the_other_and_a_deletion_follows(region):
    async with (
        RunningReplicator(region.hub_place()),
        RunningReplicator(region.island_place("a")) as a,
        RunningReplicator(region.island_place("b")) as b,
    ):
        code = a.registry.register("Åsa Öberg", "070-123 45 67", ["safe"])
        assert await eventually(lambda: found(b.registry, "asa oberg", "+46701234567") == [["safe"]])
        # An update made at B with the code from A reaches A.
        assert b.registry.add_update(code, ["at_point"])
        assert await eventually(
            lambda: found(a.registry, "Åsa Öberg", "0701234567") == [["safe", "at_point"]]
        )
        assert a.registry.delete(code)
        assert await eventually(lambda: found(b.registry, "Åsa Öberg", "0701234567") == [])
        state = (await b.refresh_state()).to_json()
        assert state["connected"] is True and state["refused"] == 0


async def test_islands_keep_writing_with_the_hub_down_and_converge_when_it_returns(region):
    hub_place = region.hub_place()
    async with (
        RunningReplicator(region.island_place("a")) as a,
        RunningReplicator(region.island_place("b")) as b,
    ):
        async with RunningReplicator(hub_place):
            a.registry.register("Första Person", "0701111111", ["safe"])
            await eventually(lambda: b.registry.count() == 1)
        region.hub["n1"].stop()
        await eventually(lambda: not a.state.connected and not b.state.connected)
        for n in range(20):  # registrations go on at both islands, answered from their own records
            a.registry.register(f"Anna {n}", f"07022200{n:02d}", ["safe"])
            b.registry.register(f"Bertil {n}", f"07033300{n:02d}", ["at_point"])
        assert found(a.registry, "Anna 7", "0702220007") == [["safe"]]
        assert a.registry.count() == 21 and b.registry.count() == 21
        await eventually(lambda: a.state.outbox == 0 and b.state.outbox == 0)  # in the islands' own streams

        region.hub["n1"].start()
        async with RunningReplicator(hub_place) as hub:
            await eventually(lambda: a.registry.count() == 41 and b.registry.count() == 41, timeout=40)
            await eventually(lambda: hub.registry.count() == 41, timeout=40)
        assert found(a.registry, "Bertil 13", "0703330013") == [["at_point"]]
        assert found(b.registry, "Anna 13", "0702220013") == [["safe"]]
        # No duplicates: every record once, with exactly its one message.
        for registry in (a.registry, b.registry):
            assert registry.counts()["records"] == 41 and registry.counts()["messages"] == 41
        assert a.state.refused == b.state.refused == 0


async def test_an_island_may_not_publish_on_another_islands_subject(region):
    async with RunningReplicator(region.hub_place()), RunningReplicator(region.island_place("b")):
        a = await nats.connect(**region.island_client("a"))
        b = await nats.connect(**region.island_client("b"))
        hub_node = region.region.hub[0]
        hub = await nats.connect(
            f"nats://{hub_node.host}:{hub_node.client_port}", user="hub", password=region.creds.hub_password()
        )
        try:
            received: list[str] = []

            async def seen(msg) -> None:
                received.append(msg.subject)

            for client in (b, hub):
                await client.subscribe("region.>", cb=seen)
                await client.subscribe("relay.>", cb=seen)
                await client.flush()
            await eventually(lambda: _interest_reached(region), timeout=10)
            forged = ["region.b.registry", "relay.b.registry", "relay.hub.messages"]
            for subject in forged:
                await a.publish(subject, b"forged by a")
            await a.publish("region.a.registry", b"a's own")
            await a.flush()
            await eventually(lambda: received.count("region.a.registry") == 2)  # at B and at the hub
            await b.flush()
            assert not set(forged) & set(received)
            assert (await b.jetstream().stream_info("ISLAND_b")).state.messages == 0
            assert (await hub.jetstream().stream_info("REGION")).state.messages == 0
        finally:
            for client in (a, b, hub):
                await client.close()


def _interest_reached(region) -> bool:
    import json
    import urllib.request

    node = region.region.hub[0]
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"http://{node.host}:{node.monitor_port}/leafz?subs=1") as answer:
        leafs = json.loads(answer.read())["leafs"]
    return len(leafs) == 2


async def test_a_bad_event_is_kept_aside_at_the_hub_and_goes_no_further(region):
    async with (
        RunningReplicator(region.hub_place()) as hub,
        RunningReplicator(region.island_place("a")) as a,
        RunningReplicator(region.island_place("b")) as b,
    ):
        a.registry.register("Cecilia Ek", "0704444444", ["safe"])
        await eventually(lambda: b.registry.count() == 1)
        before = b.registry.counts()
        client = await nats.connect(**region.island_client("a"))
        try:
            js = client.jetstream()
            await js.publish("region.a.registry", b"{not json")
            await js.publish("region.a.registry", b'{"v": 99, "id": "x", "origin": "a", "kind": "note"}')
            # Island A speaking for island B on its own subject.
            await js.publish(
                "region.a.registry",
                b'{"v": 1, "id": "d-x", "origin": "b", "kind": "delete", "code_hash": "'
                + b"0" * 64
                + b'", "expires": 1e12}',
            )
        finally:
            await client.close()
        await eventually(lambda: hub.quarantine.count() == 3)
        reasons = sorted(r.reason for r in hub.quarantine.entries())
        assert reasons == ["not JSON", "origin b published on a's subject", "unknown version 99"]
        assert 'region_events_refused_total{place="hub"} 3' in (await hub.refresh_state()).to_prometheus()
        # A write after the bad events still flows; nothing else changed at B, nothing refused there.
        a.registry.register("David Ek", "0705555555", ["safe"])
        await eventually(lambda: b.registry.count() == 2)
        assert b.registry.counts()["records"] == before["records"] + 1
        assert b.quarantine.count() == 0


def crisis_message(identifier: str, headline: str) -> Message:
    return Message(
        identifier=identifier,
        sender="Krisledningen",
        sent=datetime.now(UTC),
        area="Ödrift kommun",
        severity="Severe",
        info=[Info(headline=headline, description="Mer information kommer.")],
    )


def headlines(store: Store) -> dict[str, str]:
    """What the page shows: each active message's headline and sender."""
    return {m.info[0].headline: m.sender for m in store.content().messages}


async def test_crisis_messages_from_the_hub_reach_every_island_and_an_islands_go_up_with_its_name(
    region, tmp_path
):
    stores = {place: Store(tmp_path / f"{place}-site.sqlite") for place in ("hub", "a", "b")}
    hub_place = region.hub_place(store_path=str(tmp_path / "hub-site.sqlite"))
    try:
        async with (
            RunningReplicator(hub_place),
            RunningReplicator(region.island_place("a", store_path=str(tmp_path / "a-site.sqlite"))),
            RunningReplicator(region.island_place("b", store_path=str(tmp_path / "b-site.sqlite"))),
        ):
            # An editor at the hub publishes; an editor at island A publishes under the same identifier.
            stores["hub"].save_island_message(crisis_message("vma-1", "Koka vattnet"), "kim", "publish", "")
            stores["a"].save_island_message(crisis_message("vma-1", "Skolan är öppen"), "eva", "publish", "")
            for island in ("a", "b"):
                await eventually(lambda island=island: "Koka vattnet" in headlines(stores[island]))
            await eventually(lambda: "Skolan är öppen" in headlines(stores["hub"]))
            assert headlines(stores["hub"])["Skolan är öppen"] == "Krisledningen – Ö A"
            # A's own message is still A's; B does not get A's message (it goes up to the hub only).
            assert headlines(stores["a"]) == {
                "Koka vattnet": "Krisledningen",
                "Skolan är öppen": "Krisledningen",
            }
            assert headlines(stores["b"]) == {"Koka vattnet": "Krisledningen"}
    finally:
        for store in stores.values():
            store.close()


async def test_a_three_node_hub_keeps_the_region_going_with_one_node_down(tmp_path):
    running = start_region(plan(["a", "b"], hub_nodes=3), tmp_path)
    try:
        async with (
            RunningReplicator(running.hub_place()) as hub,
            RunningReplicator(running.island_place("a")) as a,
            RunningReplicator(running.island_place("b")) as b,
        ):
            a.registry.register("Före Stopp", "0706666666", ["safe"])
            await eventually(lambda: b.registry.count() == 1, timeout=40)
            running.hub["n1"].stop()
            a.registry.register("Under Stopp", "0707777777", ["safe"])
            b.registry.register("Också Under", "0708888888", ["at_point"])
            await eventually(lambda: a.registry.count() == 3 and b.registry.count() == 3, timeout=40)
            assert (await hub.refresh_state()).connected and hub.registry.count() == 3
    finally:
        running.stop()


async def test_one_island_cut_off_keeps_working_and_both_directions_catch_up_when_its_link_heals(tmp_path):
    running = start_region(plan(["a", "b", "c"]), tmp_path, relayed=True)
    hub_site = Store(tmp_path / "hub-site.sqlite")
    c_site = Store(tmp_path / "c-site.sqlite")
    try:
        async with (
            RunningReplicator(running.hub_place(store_path=str(tmp_path / "hub-site.sqlite"))),
            RunningReplicator(running.island_place("a")) as a,
            RunningReplicator(running.island_place("b")) as b,
            RunningReplicator(running.island_place("c", store_path=str(tmp_path / "c-site.sqlite"))) as c,
        ):
            await eventually(lambda: a.state.connected and b.state.connected and c.state.connected)
            running.links["c"].cut()
            await eventually(lambda: not c.state.connected)
            a.registry.register("Anna Al", "0701000001", ["safe"])
            c.registry.register("Cesar Ek", "0701000003", ["at_point"])
            hub_site.save_island_message(crisis_message("vma-2", "Skyddsrum öppna"), "kim", "publish", "")
            await eventually(lambda: b.registry.lookup("Anna Al", "0701000001"))
            await asyncio.sleep(2)  # the cut holds: C hears nothing, nobody hears C
            assert b.registry.lookup("Cesar Ek", "0701000003") == [] and "Skyddsrum öppna" not in headlines(
                c_site
            )
            assert c.registry.lookup("Cesar Ek", "0701000003")  # C answers from its own records

            running.links["c"].restore()
            await eventually(lambda: b.registry.lookup("Cesar Ek", "0701000003"), timeout=30)
            await eventually(lambda: c.registry.lookup("Anna Al", "0701000001"), timeout=30)
            await eventually(lambda: "Skyddsrum öppna" in headlines(c_site), timeout=30)
            for island in (a, b, c):
                assert island.registry.counts()["records"] == 2 and island.registry.counts()["messages"] == 2
    finally:
        hub_site.close()
        c_site.close()
        running.stop()


async def test_replaying_the_whole_hub_stream_at_an_island_changes_nothing(region):
    hub_node = region.region.hub[0]
    async with RunningReplicator(region.hub_place()), RunningReplicator(region.island_place("a")) as a:
        async with RunningReplicator(region.island_place("b")) as b:
            code = a.registry.register("Rut Ek", "0709000001", ["safe"])
            a.registry.add_update(code, ["with_family"])
            gone = a.registry.register("Sten Ek", "0709000002", ["safe"])
            a.registry.delete(gone)
            a.registry.register("Tea Ek", "0709000003", ["at_point"])
            await eventually(
                lambda: b.registry.counts()["records"] == 2 and b.state.lag == 0 and a.state.lag == 0
            )
            before = b.registry.counts()
        # B's place in the hub's stream is forgotten: its next replicator reads everything again.
        hub = await nats.connect(
            f"nats://{hub_node.host}:{hub_node.client_port}", user="hub", password=region.creds.hub_password()
        )
        await hub.jetstream().delete_consumer("REGION", "island_b")
        await hub.close()
        async with RunningReplicator(region.island_place("b")) as b_again:
            await eventually(lambda: b_again.applier.totals.unchanged >= 4)  # every note and the deletion
            assert b_again.registry.counts() == before
            assert b_again.registry.lookup("Sten Ek", "0709000002") == []
            assert sum(b_again.applier.totals.applied.values()) == 0


async def test_a_phone_on_the_islands_network_cannot_use_its_nats_server(region):
    island = region.region.island("a")
    with pytest.raises(nats.errors.Error, match="Authorization Violation"):
        await nats.connect(
            f"nats://{island.host}:{island.client_port}",
            allow_reconnect=False,
            connect_timeout=2,
            error_cb=_quiet,
        )


async def _quiet(exc: Exception) -> None:
    pass
