"""Shared setup for the scenario-format tests: a minimal scenario text and how to parse or refuse it."""

from __future__ import annotations

from pathlib import Path

import pytest

from island.cli import SCENARIO_DIR
from island.scenario import Scenario, ScenarioError
from island.scenario.loader import parse_scenario

SHIPPED = sorted(SCENARIO_DIR.glob("*.yaml"))  # the library `island scenario list` shows

# One probe and one phase, ending at its fault list: append fault lines (and more) to it.
# Error line numbers in the tests count from here: "    faults:" is line 8.
HEAD = """\
title: t
probes:
  - name: crisis-dns
    dns: {name: "{crisis_name}"}
phases:
  - name: during
    duration: 2
    faults:
"""


def parse(text: str) -> Scenario:
    """Parse ``text`` as if it were the file s.yaml."""
    return parse_scenario(text, Path("s.yaml"))


def refused(text: str) -> list[str]:
    """The error lines when ``text`` (as s.yaml) is refused; fails the test if it loads."""
    with pytest.raises(ScenarioError) as caught:
        parse(text)
    return str(caught.value).splitlines()
