"""The code's habits, checked like any other behaviour: ruff (lint and format) and mypy are clean.

mypy is strict on island/, services/dns and services/resolver (pyproject.toml); the rest is
type-checked in mypy's default mode.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _tool(name: str) -> list[str]:
    beside = Path(sys.executable).with_name(name)
    if beside.exists():
        return [str(beside)]
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: `pip install -e '.[test]'` brings it")
    return [found]


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_finds_nothing_to_fix() -> None:
    done = _run([*_tool("ruff"), "check", "--output-format", "concise", "."])
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_code_is_formatted() -> None:
    done = _run([*_tool("ruff"), "format", "--check", "."])
    assert done.returncode == 0, "run `ruff format .`:\n" + done.stdout + done.stderr


def test_mypy_is_clean() -> None:
    done = _run([*_tool("mypy"), "island", "services", "bench"])
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr
