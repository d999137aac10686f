"""Reading scenario files, with errors that name the file, the line and the field."""

from __future__ import annotations

from pathlib import Path

from ..yamlfile import YamlFileError, load_model, parse_model
from .model import Scenario


class ScenarioError(YamlFileError):
    """A scenario file that cannot be run; str() lists every problem as file:line: field: message."""


def parse_scenario(text: str, path: Path) -> Scenario:
    return parse_model(
        text,
        path,
        Scenario,
        error=ScenarioError,
        what="a scenario: a mapping with title, probes and phases",
        context={"scenario_file": True},
    )


def load_scenario(path: str | Path) -> Scenario:
    return load_model(
        path,
        Scenario,
        error=ScenarioError,
        what="a scenario: a mapping with title, probes and phases",
        context={"scenario_file": True},
    )
