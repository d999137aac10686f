"""What every router asks of the running site, as a dependency."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.crisis_site.site import Site


def site_of(request: Request) -> Site:
    site: Site = request.app.state.site
    return site


SiteDep = Annotated[Site, Depends(site_of)]
