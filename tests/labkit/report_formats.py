"""Structure checks for the report formats pyhost writes (SARIF 2.1.0 and JUnit XML)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any


def validate_sarif(log: dict[str, Any]) -> None:
    """The SARIF 2.1.0 structure code-scanning services read (OASIS SARIF 2.1.0, sections
    3.13 sarifLog, 3.14 run, 3.18 toolComponent, 3.27 result, 3.28 location, 3.49
    reportingDescriptor, 3.35 suppression): required properties and their enumerations.
    No package on the registry ships the schema file; this follows the published spec."""
    assert log["version"] == "2.1.0" and log["$schema"].endswith("sarif-2.1.0.json")
    assert isinstance(log["runs"], list) and log["runs"]
    for run in log["runs"]:
        driver = run["tool"]["driver"]
        assert isinstance(driver["name"], str) and driver["name"]
        rules = driver.get("rules", [])
        ids = [rule["id"] for rule in rules]
        assert len(ids) == len(set(ids))
        for rule in rules:
            assert isinstance(rule["shortDescription"]["text"], str)
            assert rule["defaultConfiguration"]["level"] in ("none", "note", "warning", "error")
            assert float(rule["properties"]["security-severity"]) >= 0
        for result in run["results"]:
            assert isinstance(result["message"]["text"], str) and result["message"]["text"]
            assert result["level"] in ("none", "note", "warning", "error")
            assert result["kind"] in (
                "notApplicable",
                "pass",
                "fail",
                "review",
                "open",
                "informational",
            )
            assert ids[result["ruleIndex"]] == result["ruleId"]
            for loc in result["locations"]:
                physical = loc["physicalLocation"]
                assert isinstance(physical["artifactLocation"]["uri"], str)
                assert physical["region"]["startLine"] >= 1
                for logical in loc.get("logicalLocations", []):
                    assert isinstance(logical["name"], str)
            for value in result.get("partialFingerprints", {}).values():
                assert isinstance(value, str)
            for s in result.get("suppressions", []):
                assert s["kind"] in ("inSource", "external")
        for inv in run.get("invocations", []):
            assert isinstance(inv["executionSuccessful"], bool)
        assert run.get("columnKind", "utf16CodeUnits") in ("utf16CodeUnits", "unicodeCodePoints")


def validate_junit(text: str) -> ET.Element:
    """The JUnit XML conventions CI servers read (Jenkins' junit plugin, GitLab, GitHub
    test reporters): <testsuites> or <testsuite> root; each testsuite has name, tests,
    failures, errors, skipped with counts that add up to its testcases; each testcase has
    classname and name and at most one of failure/error/skipped with a message."""
    root = ET.fromstring(text)
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    assert root.tag in ("testsuites", "testsuite") and suites
    for suite in suites:
        cases = suite.findall("testcase")
        assert suite.get("name")
        assert int(suite.get("tests", "-1")) == len(cases)
        for kind, attr in (("failure", "failures"), ("error", "errors"), ("skipped", "skipped")):
            assert int(suite.get(attr, "-1")) == sum(1 for c in cases if c.find(kind) is not None)
        for case in cases:
            assert case.get("classname") and case.get("name")
            outcome = [c for c in case if c.tag in ("failure", "error", "skipped")]
            assert len(outcome) <= 1
            for node in outcome:
                assert node.get("message") is not None
            float(case.get("time", "0"))
    return root
