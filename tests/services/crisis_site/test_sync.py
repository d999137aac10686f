"""Sync from the municipality's central feed: the real simulated upstream app, in-process."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest

from services.crisis_site.app import DEMO_CONTENT
from services.crisis_site.content import Message, load_seed
from services.crisis_site.store import Store
from services.crisis_site.sync import MAX_BODY, FeedPoller
from services.upstream.feed import CentralFeed, FeedUpdate
from services.upstream.web import create_app as upstream_app

FEED = "http://www.kommun.example/api/cap.xml"
JSON_FEED = "http://www.kommun.example/api/feed.json"


class Recorder(httpx.AsyncBaseTransport):
    """Passes every request to the real upstream app and remembers what was asked (for the 304 check)."""

    def __init__(self, app) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return await self.inner.handle_async_request(request)


@pytest.fixture
def world():
    store = Store(":memory:")
    store.seed(load_seed(DEMO_CONTENT))
    feed = CentralFeed()
    transport = Recorder(upstream_app(feed))
    return store, feed, transport


def new_message(identifier: str, headline: str) -> Message:
    return Message.model_validate(
        {
            "identifier": identifier,
            "sender": "Sjöbacka kommun",
            "sent": datetime.now(UTC),
            "severity": "Extreme",
            "area": "Sjöbacka",
            "info": [{"language": "sv", "headline": headline, "description": "Text."}],
        }
    )


@pytest.mark.parametrize("url", [FEED, JSON_FEED])
async def test_first_poll_applies_the_feed_then_etag_gives_304(world, url: str) -> None:
    store, feed, transport = world
    poller = FeedPoller(store, url, interval=2.0, transport=transport)
    try:
        assert await poller.poll_once() == 2.0
        content = store.content()
        assert [m.identifier for m in content.messages] == ["sjobacka-2025-0101"]
        assert content.sync.reachable is True and content.sync.last_heard is not None
        version = store.version
        assert await poller.poll_once() == 2.0
        assert transport.requests[-1].headers["if-none-match"]
        assert store.version == version, "a 304 does not re-render the page"
        feed.update(FeedUpdate(messages=[*feed.messages, new_message("sjobacka-2025-0102", "Ny uppgift")]))
        await poller.poll_once()
        assert [m.identifier for m in store.content().messages] == [
            "sjobacka-2025-0102",
            "sjobacka-2025-0101",
        ]
    finally:
        await poller.stop()


@pytest.mark.parametrize("mode", ["invalid", "bomb", "huge", "wrong-types", "error", "throttle"])
@pytest.mark.parametrize("url", [FEED, JSON_FEED])
async def test_a_broken_or_hostile_feed_is_refused_and_the_last_good_content_stays(
    world, mode, url, caplog
) -> None:
    store, feed, transport = world
    poller = FeedPoller(store, url, interval=2.0, transport=transport)
    try:
        await poller.poll_once()
        good = store.content().messages
        feed.update(FeedUpdate(mode=mode, messages=[new_message("evil-1", "Ska inte synas")]))
        delay = await poller.poll_once()
        content = store.content()
        assert content.messages == good
        assert content.sync.reachable is False and content.sync.last_error
        assert "keeping the last good content" in caplog.text
        if mode == "huge":
            assert str(MAX_BODY) in content.sync.last_error
        if mode == "throttle":
            assert delay >= 1.0  # Retry-After is honoured
        # Backoff grows while the municipality keeps answering badly.
        assert await poller.poll_once() > delay * 1.5 or mode == "throttle"
        feed.update(FeedUpdate(mode="normal"))
        await poller.poll_once()
        assert [m.identifier for m in store.content().messages] == ["evil-1"]
        assert store.content().sync.reachable is True
    finally:
        await poller.stop()


async def test_unreachable_feed_keeps_content_and_polls_at_the_interval(world) -> None:
    store, _, transport = world
    poller = FeedPoller(store, FEED, interval=2.0, transport=transport)
    await poller.poll_once()
    await poller.stop()
    heard = store.content().sync.last_heard
    with socket.socket() as closed:  # a real loopback port with nobody listening: connection refused
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    cut = FeedPoller(store, f"http://127.0.0.1:{port}/api/cap.xml", interval=2.0)
    try:
        for _ in range(3):
            assert await cut.poll_once() == 2.0  # a cut loads nobody: no backoff, fresh soon after it heals
    finally:
        await cut.stop()
    content = store.content()
    assert [m.identifier for m in content.messages] == ["sjobacka-2025-0101"]
    assert content.sync.reachable is False and content.sync.last_heard == heard
    assert "ConnectError" in content.sync.last_error


async def test_island_messages_survive_a_sync(world) -> None:
    store, feed, transport = world
    island = new_message("island-1", "Från krisledningen på plats").model_copy(update={"origin": "island"})
    store.save_island_message(island, "anna", "publish", "x")
    feed.update(FeedUpdate(messages=[new_message("island-1", "Kapning från flödet")]))
    poller = FeedPoller(store, FEED, interval=2.0, transport=transport)
    try:
        await poller.poll_once()
    finally:
        await poller.stop()
    kept = store.message("island-1")
    assert kept.origin == "island" and kept.text("sv")[0].headline == "Från krisledningen på plats"


def test_backoff_is_capped() -> None:
    poller = FeedPoller(Store(":memory:"), FEED, interval=30.0)
    delays = [poller._backoff() for _ in range(12)]
    assert delays[1] > delays[0] and max(delays) <= 300.0
    assert poller._backoff(retry_after=10_000) <= 300.0


def test_page_says_when_it_last_heard_during_a_cut() -> None:
    from services.crisis_site.render import PageRenderer

    store = Store(":memory:")
    store.seed(load_seed(DEMO_CONTENT))
    heard = datetime(2025, 1, 14, 9, 30, tzinfo=timezone(timedelta(hours=1)))
    store.replace_central([], heard)
    assert "Ingen kontakt" not in PageRenderer().render(store.content())
    store.record_sync_failure("cannot reach the feed: ReadTimeout")
    html = PageRenderer().render(store.content())
    assert (
        '<p class="cut" id="avbrott"><strong>Ingen kontakt med kommunens centrala webbplats just nu.</strong> '
        "Senast vi hörde från kommunen var tisdag 14 januari 2025 kl. 09.30."
    ) in html
