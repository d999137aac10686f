"""The crisis site's store sees what the replicator (another process, another connection) saves."""

from __future__ import annotations

from datetime import UTC, datetime

from services.crisis_site.content import Info, Message
from services.crisis_site.store import Store
from services.region.applier import stored_message


def message(identifier: str, headline: str) -> Message:
    return Message(
        identifier=identifier,
        sender="Krisledningen",
        sent=datetime.now(UTC),
        area="Ödrift",
        info=[Info(headline=headline, description="Mer information kommer.")],
    )


def test_a_message_saved_by_the_replicator_changes_the_sites_version(tmp_path):
    site, replicator = Store(tmp_path / "site.sqlite"), Store(tmp_path / "site.sqlite")
    seen = site.version
    replicator.save_island_message(
        stored_message("hub", message("m1", "Koka vattnet"), ""), "(region)", "region", ""
    )
    assert site.version > seen  # the page cache re-renders
    assert [m.info[0].headline for m in site.content().messages] == ["Koka vattnet"]


def test_the_hubs_copy_of_a_feed_message_the_island_heard_itself_is_shown_once(tmp_path):
    store = Store(tmp_path / "site.sqlite")
    store.replace_central([message("m1", "Koka vattnet")], datetime.now(UTC))
    store.save_island_message(
        stored_message("hub", message("m1", "Koka vattnet"), ""), "(region)", "region", ""
    )
    assert [m.identifier for m in store.content().messages] == ["m1"]
