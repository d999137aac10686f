from __future__ import annotations

import pytest
from tiers import TIERS, required


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # Where tiers are required (CI), any skip means something did not run: that is a failure.
    if not any(required(t) for t in TIERS):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped and session.exitstatus == 0:
        reporter.write_line(
            f"{len(skipped)} test(s) skipped while every tier is required: failing the run", red=True
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
