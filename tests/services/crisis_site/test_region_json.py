"""/api/region.json: what a region's convergence check compares, readable without login and
leaking nothing personal (counts, and message ids hashed)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from site_helpers import app_with, client_for

from services.crisis_site.content import Info, Message
from services.crisis_site.store import Store
from services.region.applier import stored_message

PERSON = {"name": "Åsa Öberg", "identifier": "070-123 45 67", "presets": ["safe"], "text": "Hälsa mamma"}


def short_hash(identifier: str) -> str:
    return hashlib.sha256(identifier.encode()).hexdigest()[:16]


async def test_it_counts_records_and_messages_and_names_no_one(tmp_path) -> None:
    async with client_for(app_with(tmp_path, region=True)) as site:
        before = (await site.get("/api/region.json")).json()
        await site.post("/anhoriga/registrera", data=PERSON)
        after = await site.get("/api/region.json")
    assert before["records"] == 0 and before["messages"] == 0
    assert after.status_code == 200
    assert (after.json()["records"], after.json()["messages"]) == (1, 1)
    for personal in ("Åsa", "Öberg", "070", "Hälsa"):
        assert personal not in after.text


async def test_a_message_from_the_hub_counts_as_the_hubs_own(tmp_path) -> None:
    """The hub's m1 is region:hub:m1 on an island: both answer the same hash, so they compare equal."""
    db = tmp_path / "site.sqlite3"
    message = Message(
        identifier="krisledningen-1",
        sender="Krisledningen",
        sent=datetime.now(UTC),
        area="Ödrift",
        info=[Info(headline="Koka vattnet", description="Mer information kommer.")],
    )
    Store(str(db)).save_island_message(stored_message("hub", message, ""), "(region)", "region", "")
    async with client_for(app_with(tmp_path, database=str(db), region=True)) as site:
        answer = (await site.get("/api/region.json")).json()
    assert short_hash("krisledningen-1") in answer["crisis_messages"]
    assert "region:hub:krisledningen-1" not in str(answer)


async def test_a_lone_island_keeps_its_counts_to_its_staff(tmp_path) -> None:
    async with client_for(app_with(tmp_path)) as site:
        answer = await site.get("/api/region.json")
    assert answer.status_code == 404
    assert "records" not in answer.text
