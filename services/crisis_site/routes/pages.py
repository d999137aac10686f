"""The crisis page, its print view, the API's description page, the icon and the health check."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.crisis_site.routes.deps import SiteDep

router = APIRouter()


@router.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
async def page(request: Request, site: SiteDep) -> Response:
    return site.cached_response(request, "/")


@router.api_route("/utskrift", methods=["GET", "HEAD"], include_in_schema=False)
async def print_page(request: Request, site: SiteDep) -> Response:
    return site.cached_response(request, "/utskrift")


@router.get("/api", include_in_schema=False)
async def api_page(request: Request, site: SiteDep) -> Response:
    # The OpenAPI description as a plain page: Swagger UI would need JavaScript from a CDN.
    spec = request.app.openapi()
    html = site.renderer.template("api.html").render(
        css=site.renderer.css,
        paths={p: ops for p, ops in spec["paths"].items() if p != "/healthz"},
        fields=spec["components"]["schemas"]["Content"]["properties"],
    )
    return Response(html, media_type="text/html; charset=utf-8", headers={"Cache-Control": "no-cache"})


@router.get("/favicon.ico", include_in_schema=False)
async def favicon() -> Response:
    # Browsers ask for it on every site; "no icon", cached for a day, instead of a logged 404.
    return Response(status_code=204, headers={"Cache-Control": "max-age=86400"})


@router.get("/healthz")
async def healthz(response: Response) -> dict[str, str]:
    response.headers["Cache-Control"] = "no-store"
    return {"status": "ok", "service": "crisis-site"}
