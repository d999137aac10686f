"""The page's content for programs: JSON, Atom and CAP, from the same cache as the page."""

from __future__ import annotations

import hashlib

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from services.crisis_site.content import Content
from services.crisis_site.routes.deps import SiteDep

router = APIRouter()


@router.get(
    "/api/crisis.json",
    response_model=Content,
    summary="The page's content: active messages (CAP-shaped), trygghetspunkter, standing advice, sync state",
)
async def crisis_json(request: Request, site: SiteDep) -> Response:
    return site.cached_response(request, "/api/crisis.json")


@router.get(
    "/feeds/atom.xml",
    summary="Atom feed of the active messages",
    response_class=Response,
    responses={200: {"content": {"application/atom+xml": {}}}},
)
async def atom_feed(request: Request, site: SiteDep) -> Response:
    return site.cached_response(request, "/feeds/atom.xml")


@router.get(
    "/feeds/cap.xml",
    summary="The active messages as CAP 1.2 <alert> elements inside an Atom feed",
    response_class=Response,
    responses={200: {"content": {"application/xml": {}}}},
)
async def cap_feed(request: Request, site: SiteDep) -> Response:
    return site.cached_response(request, "/feeds/cap.xml")


def _region_identifier(identifier: str) -> str:
    """A message's identifier where it was written: the region stores the hub's message m1 on an
    island as region:hub:m1 (services/region/applier.py), and an island's at the hub likewise."""
    if identifier.startswith("region:"):
        return identifier.split(":", 2)[-1]
    return identifier


@router.get(
    "/api/region.json",
    summary="What the region's convergence check compares: counts and hashed message ids, nothing personal",
)
async def region_json(site: SiteDep) -> dict[str, object]:
    if not site.config.region:
        raise HTTPException(404, "not in a region")
    counts = site.registry.counts()
    ids = {_region_identifier(m.identifier) for m in site.content().messages}
    return {
        "records": counts["records"],
        "messages": counts["messages"],
        "crisis_messages": sorted(hashlib.sha256(i.encode()).hexdigest()[:16] for i in ids),
    }
