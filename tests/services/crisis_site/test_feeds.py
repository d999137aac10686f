"""Feeds in and out: CAP 1.2 written and read back, Krisinformation-shaped JSON, hostile input refused."""

from __future__ import annotations

import pytest

from services.crisis_site.app import DEMO_CONTENT
from services.crisis_site.content import load_seed
from services.crisis_site.feeds import (
    FeedError,
    atom,
    cap_feed,
    krisinformation_items,
    parse_cap,
    parse_feed,
    parse_krisinformation,
)
from services.crisis_site.store import Store
from services.upstream.feed import CentralFeed, FeedUpdate


@pytest.fixture
def content():
    store = Store(":memory:")
    store.seed(load_seed(DEMO_CONTENT))
    return store.content()


def test_cap_round_trip(content) -> None:
    xml = cap_feed(content)
    assert b'xmlns:cap="urn:oasis:names:tc:emergency:cap:1.2"' in xml
    assert b"<cap:msgType>Alert</cap:msgType>" in xml and b"<cap:scope>Public</cap:scope>" in xml
    back = parse_cap(xml)
    assert back == [m.model_copy(update={"origin": "central"}) for m in content.messages]


def test_a_bare_cap_alert_is_read_too(content) -> None:
    xml = cap_feed(content)
    start = xml.index(b"<cap:alert")
    end = xml.index(b"</cap:alert>") + len(b"</cap:alert>")
    bare = xml[start:end].replace(
        b"<cap:alert", b'<cap:alert xmlns:cap="urn:oasis:names:tc:emergency:cap:1.2"', 1
    )
    assert [m.identifier for m in parse_cap(bare)] == ["sjobacka-2025-0001"]


def test_atom_feed_lists_active_messages(content) -> None:
    xml = atom(content).decode()
    assert xml.count("<entry>") == 2
    assert (
        "<title>Långvarigt strömavbrott och störningar i mobilnät och internet efter stormen</title>" in xml
    )


def test_krisinformation_json_round_trip(content) -> None:
    import json

    items = krisinformation_items(content.messages)
    assert {i["Language"] for i in items} == {"sv", "en"}
    back = parse_krisinformation(json.dumps(items).encode())
    assert [m.identifier for m in back] == ["sjobacka-2025-0001", "sjobacka-2025-0002"]
    assert [i.language for i in back[0].info] == ["sv", "en"]
    assert back[0].severity == "Severe" and back[1].severity == "Moderate"


@pytest.mark.parametrize(
    ("mode", "kind", "problem"),
    [
        ("invalid", "cap", "invalid XML"),
        ("bomb", "cap", "refused hostile XML"),
        ("wrong-types", "cap", "CAP alert bad-1"),
        ("invalid", "json", "invalid JSON"),
        ("bomb", "json", "nested too deeply"),
        ("wrong-types", "json", "JSON item 42: identifier"),
    ],
)
def test_the_simulated_hostile_feeds_are_refused(mode: str, kind: str, problem: str) -> None:
    feed = CentralFeed()
    feed.update(FeedUpdate(mode=mode))
    status, headers, body = feed.respond(kind, None)
    assert status == 200
    with pytest.raises(FeedError, match=problem):
        parse_feed(body, headers["content-type"])


def test_wrong_types_name_the_field() -> None:
    feed = CentralFeed()
    feed.update(FeedUpdate(mode="wrong-types"))
    with pytest.raises(FeedError) as info:
        parse_feed(feed.respond("cap", None)[2], "application/xml")
    assert "sent" in str(info.value) and "severity" in str(info.value)


def test_external_entities_are_refused() -> None:
    xxe = (
        b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&x;</identifier></alert>'
    )
    with pytest.raises(FeedError, match="hostile"):
        parse_cap(xxe)


def test_unexpected_media_type_and_root() -> None:
    with pytest.raises(FeedError, match="media type"):
        parse_feed(b"<html/>", "text/html")
    with pytest.raises(FeedError, match="root element"):
        parse_cap(b"<html><body/></html>")


def test_duplicate_identifiers_refused(content) -> None:
    import json

    items = krisinformation_items(content.messages[:1])
    twice = json.dumps(items[:1]).encode()
    assert len(parse_krisinformation(twice)) == 1
    xml = cap_feed(content.model_copy(update={"messages": [content.messages[0], content.messages[0]]}))
    with pytest.raises(FeedError, match="twice"):
        parse_cap(xml)


def test_simulated_feed_etag_and_304() -> None:
    feed = CentralFeed()
    status, headers, body = feed.respond("cap", None)
    assert status == 200 and headers["etag"]
    assert feed.respond("cap", headers["etag"])[0] == 304
    feed.update(FeedUpdate(messages=[]))
    assert feed.respond("cap", headers["etag"])[0] == 200
