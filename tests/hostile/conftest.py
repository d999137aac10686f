"""One island for the whole hostile tier: every module's attacks and the soak run against it
(bringing an island up and down costs about ten seconds of the tier's CI time each)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hostile_helpers import HOSTILE_NET, HostileIsland, hostile_island


@pytest.fixture(scope="session")
def island(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostileIsland]:
    yield from hostile_island(tmp_path_factory, HOSTILE_NET)
