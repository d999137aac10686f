"""Scenarios: the model (data), the loader (errors with file and line), the engine, the journal and the report."""

from .analysis import Result, evaluate
from .engine import run_scenario
from .journal import Journal
from .loader import ScenarioError, load_scenario
from .model import Scenario
from .report import render_text

__all__ = [
    "Journal",
    "Result",
    "Scenario",
    "ScenarioError",
    "evaluate",
    "load_scenario",
    "render_text",
    "run_scenario",
]
