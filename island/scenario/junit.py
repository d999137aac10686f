"""JUnit XML for CI systems: one test suite per scenario, one test case per phase and required probe."""

from __future__ import annotations

from xml.etree import ElementTree as ET

from .analysis import Result


def render_junit(results: list[Result]) -> str:
    suites = ET.Element("testsuites")
    for result in results:
        cases = [(phase, stats) for phase in result.phases for stats in phase.probes if stats.required]
        failures = sum(not stats.passed for _, stats in cases)
        suite = ET.SubElement(
            suites, "testsuite", name=result.title, tests=str(len(cases) + bool(result.problems)),
            failures=str(failures), errors=str(int(bool(result.problems))),
        )
        ET.SubElement(ET.SubElement(suite, "properties"), "property", name="backend", value=result.backend)
        for phase, stats in cases:
            case = ET.SubElement(
                suite, "testcase", classname=result.scenario, name=f"{phase.name}: {stats.probe}",
                time=f"{phase.duration:g}",
            )
            if not stats.passed:
                failure = ET.SubElement(case, "failure", message="; ".join(stats.problems))
                failure.text = f"first error: {stats.sample_error}" if stats.sample_error else None
        if result.problems:
            case = ET.SubElement(suite, "testcase", classname=result.scenario, name="run")
            ET.SubElement(case, "error", message="; ".join(result.problems))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
