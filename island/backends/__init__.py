"""Backends: where the island runs. One interface (:class:`Backend`), one implementation per way of running."""

from __future__ import annotations

from ..deploy.rehearsal import Rehearsal
from ..state import StateDir
from ..topology import Addresses
from .base import Backend, BackendError, UnsupportedFault
from .compose import ComposeBackend
from .local import LocalBackend
from .netns import NetnsBackend

# Each implementation also accepts no addresses (then it finds its own), which the base class does not.
BACKENDS: dict[str, type[LocalBackend] | type[NetnsBackend] | type[ComposeBackend]] = {
    "local": LocalBackend,
    "netns": NetnsBackend,
    "compose": ComposeBackend,
}


def open_backend(
    name: str, state: StateDir, addresses: Addresses | None = None, islands: int = 1, hub_nodes: int = 1
) -> Backend:
    try:
        cls = BACKENDS[name]
    except KeyError:
        raise BackendError(f"unknown backend {name!r}; choose one of: {', '.join(BACKENDS)}") from None
    if not 1 <= islands <= 20:
        raise BackendError(f"--islands {islands}: one island, or a region of 2 to 20 islands")
    if hub_nodes not in (1, 3):
        raise BackendError(f"--hub-nodes {hub_nodes}: the hub is one node or a cluster of three")
    if hub_nodes > 1 and islands == 1:
        raise BackendError("--hub-nodes 3 is a region's hub: add --islands N (2 to 20)")
    if islands > 1:
        if cls is LocalBackend:
            return LocalBackend(state, addresses, islands=islands, hub_nodes=hub_nodes)
        if cls is NetnsBackend:
            return NetnsBackend(state, addresses, islands=islands, hub_nodes=hub_nodes)
        raise BackendError(
            f"a region (--islands {islands}) runs on the local and netns backends; compose is one island"
        )
    return cls(state, addresses)


def running_backend(state: StateDir) -> Backend | None:
    """The backend of the island recorded in ``state``, whether or not its processes still run."""
    recorded = state.read()
    if not recorded:
        return None
    name = recorded.get("backend")
    if name not in BACKENDS or "topology" not in recorded:
        return None
    addresses = Addresses.from_dict(recorded["topology"])
    region = recorded.get("region")
    backend: Backend
    hub_nodes = region.get("hub_nodes", 1) if region else 1
    if name == "local" and region:
        backend = LocalBackend(
            state, addresses, islands=region["islands"], net=region["net"], hub_nodes=hub_nodes
        )
    elif name == "netns" and region:
        backend = NetnsBackend(state, addresses, islands=region["islands"], hub_nodes=hub_nodes)
    else:
        backend = BACKENDS[name](state, addresses)
    if recorded.get("site"):  # started from a site file (`island up --site`)
        backend.use_site(Rehearsal.from_dict(recorded["site"]))
    return backend


__all__ = [
    "BACKENDS",
    "Backend",
    "BackendError",
    "LocalBackend",
    "NetnsBackend",
    "UnsupportedFault",
    "open_backend",
    "running_backend",
]
