"""At a region's hub the editors' page shows each island's link, from the hub replicator's state file;
a site that is not a hub shows no such section."""

from __future__ import annotations

import json
import time

from site_helpers import app_with, client_for
from test_editor import PASSWORD, login

from services.crisis_site.accounts import add_editor


async def dashboard(tmp_path, **config) -> str:
    app = app_with(tmp_path, **config)
    add_editor(app.state.site.store, "anna", PASSWORD)
    async with client_for(app) as c:
        await login(c)
        return (await c.get("/redaktion")).text


async def test_the_hubs_editors_see_which_islands_are_connected(tmp_path) -> None:
    state = tmp_path / "region-hub.json"
    state.write_text(
        json.dumps(
            {
                "place": "hub",
                "islands": {
                    "a": {"display": "Skolan", "connected": True, "lag": 0, "last_exchange": time.time()},
                    "c": {"display": "Biblioteket", "connected": False, "lag": None, "last_exchange": None},
                },
            }
        )
    )
    html = await dashboard(tmp_path, region_state=str(state))
    assert "Öarna i regionen" in html
    assert "<tr><td>Skolan</td><td>ansluten</td><td>0 händelser</td>" in html
    assert (
        '<tr><td>Biblioteket</td><td class="err">ingen förbindelse</td><td>okänt</td><td>inget ännu</td></tr>'
        in html
    )


async def test_before_the_replicator_has_written_no_island_is_known_yet(tmp_path) -> None:
    html = await dashboard(tmp_path, region_state=str(tmp_path / "not-yet.json"))
    assert "Inga öar har hörts av ännu." in html


async def test_an_island_alone_shows_no_region(tmp_path) -> None:
    assert "Öarna i regionen" not in await dashboard(tmp_path)
