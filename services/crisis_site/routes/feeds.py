"""The page's content for programs: JSON, Atom and CAP, from the same cache as the page."""

from __future__ import annotations

from fastapi import APIRouter, Request
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
