"""The gate's one piece that runs apart from nft: a missing conntrack is said once, and the gate still closes."""

from __future__ import annotations

import logging

import pytest

from services.gate.gate import Gate


async def test_a_missing_conntrack_is_said_once_and_the_gate_still_closes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # `true` stands in for nft (this test is about the conntrack step; the netns tier runs the real nft).
    gate = Gate(nft=("true",), portal="10.3.0.10:80", conntrack=("odrift-no-such-conntrack",))
    with caplog.at_level(logging.WARNING, logger="gate"):
        await gate.set(True)
        await gate.set(False)
        await gate.set(True)
    assert gate.closed is True
    said = [r.getMessage() for r in caplog.records if "conntrack" in r.getMessage()]
    assert len(said) == 1 and "odrift-no-such-conntrack is not installed" in said[0]
