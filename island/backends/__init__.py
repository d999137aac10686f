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


def open_backend(name: str, state: StateDir, addresses: Addresses | None = None) -> Backend:
    try:
        cls = BACKENDS[name]
    except KeyError:
        raise BackendError(f"unknown backend {name!r}; choose one of: {', '.join(BACKENDS)}") from None
    return cls(state, addresses)


def running_backend(state: StateDir) -> Backend | None:
    """The backend of the island recorded in ``state``, whether or not its processes still run."""
    recorded = state.read()
    if not recorded:
        return None
    name = recorded.get("backend")
    if name not in BACKENDS or "topology" not in recorded:
        return None
    backend = BACKENDS[name](state, Addresses.from_dict(recorded["topology"]))
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
