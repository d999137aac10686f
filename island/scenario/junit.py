"""JUnit XML for CI systems: one test suite per scenario, one test case per phase and required probe.

A scenario the backend could not run (``--skip-unsupported``) is a suite with one skipped
case that says why, so a CI dashboard shows it was left out rather than silently missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from xml.etree import ElementTree as ET

from .analysis import Result


@dataclass(frozen=True)
class Skipped:
    """A scenario left out of a run, and why (the backend cannot do one of its faults)."""

    scenario: str
    title: str
    reason: str


def render_junit(results: list[Result], skipped: Sequence[Skipped] = ()) -> str:
    suites = ET.Element("testsuites")
    for result in results:
        cases = [(phase, stats) for phase in result.phases for stats in phase.probes if stats.required]
        failures = sum(not stats.passed for _, stats in cases)
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=result.title,
            tests=str(len(cases) + bool(result.problems)),
            failures=str(failures),
            errors=str(int(bool(result.problems))),
        )
        ET.SubElement(ET.SubElement(suite, "properties"), "property", name="backend", value=result.backend)
        for phase, stats in cases:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=result.scenario,
                name=f"{phase.name}: {stats.probe}",
                time=f"{phase.duration:g}",
            )
            if not stats.passed:
                failure = ET.SubElement(case, "failure", message="; ".join(stats.problems))
                failure.text = f"first error: {stats.sample_error}" if stats.sample_error else None
        if result.problems:
            case = ET.SubElement(suite, "testcase", classname=result.scenario, name="run")
            ET.SubElement(case, "error", message="; ".join(result.problems))
    for scenario in skipped:
        suite = ET.SubElement(
            suites, "testsuite", name=scenario.title, tests="1", failures="0", errors="0", skipped="1"
        )
        case = ET.SubElement(suite, "testcase", classname=scenario.scenario, name="run")
        ET.SubElement(case, "skipped", message=scenario.reason)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
