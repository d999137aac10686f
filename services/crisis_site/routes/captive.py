"""RFC 8908: the captive-portal API that DHCP option 114 (RFC 8910) announces to phones."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import Response

router = APIRouter()

MEDIA_TYPE = "application/captive+json"
PATH = "/api/captive"


def api_url(crisis_name: str) -> str:
    """The API's URL as option 114 announces it: https:// by the crisis name (RFC 8908 requires HTTPS)."""
    return f"https://{crisis_name}{PATH}"


@router.get(PATH)
async def captive_api(request: Request) -> Response:
    site = request.app.state.site
    base = site.public_url
    state = {
        "captive": site.island_mode.captive,
        # The sign-in sheet opens the crisis page; the venue is this trygghetspunkt (water, heat,
        # toilets, charging, opening hours on the crisis page's own list).
        "user-portal-url": base,
        "venue-info-url": base + "#trygghetspunkter",
        "can-extend-session": False,
    }
    return Response(
        json.dumps(state, separators=(",", ":")),
        media_type=MEDIA_TYPE,
        headers={"Cache-Control": "private, no-store"},
    )
