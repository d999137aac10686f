"""Fixtures shared by the crisis site's tests."""

from __future__ import annotations

import pytest
from site_helpers import Clock


@pytest.fixture
def clock() -> Clock:
    """A clock the test moves by hand (expiry, rate-limit windows)."""
    return Clock()
