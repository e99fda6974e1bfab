"""JUnit XML: what GitLab, Jenkins, CodeGrade and most CI test reporters read.

JUnit XML has no single published standard; this follows the shape those tools
and the Jenkins/Ant schema agree on (https://github.com/windyroad/JUnit-Schema,
and GitLab's "Unit test reports" page): `<testsuites>` holding one `<testsuite>`
per exercise, with `tests`, `failures`, `errors`, `skipped` and `time`; one
`<testcase>` per check, holding `<failure>` when it failed (its message the
hint), `<skipped>` when it did not run (its message why), nothing when it
passed. A problem with the submission itself (no Dockerfile, a path outside
the folder) is an `<error>` case: the grader could not judge it. Points, which
JUnit has no field for, are the suite's `points`/`max_points` properties and the
first line of each case's `<system-out>`; both are integers. Each flag (what
the submission changed that grading ignored) is a suite property named `flag`;
a hidden check's case name ends in "(hidden)" and, for a student, its failure
message is the neutral line.
tests/test_grade_formats.py reads the output back through `junitparser`.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from . import Context, explain, fmt

if TYPE_CHECKING:
    from layerlab.grade.report import Report


# XML 1.0 allows no control character but tab, newline and carriage return: a build log's ANSI colour
# escape (ESC) in a check's detail would make the whole file unreadable, so each one is written as its code.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(text: str) -> str:
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


@fmt("junit", "JUnit XML (GitLab, Jenkins, CodeGrade, CI test reporters): not run is <skipped>", order=2)
def render(report: Report, ctx: Context) -> str:
    failures = sum(r.status == "failed" for r in report.results)
    skipped = sum(r.status == "not run" for r in report.results)
    errors = len(report.problems)
    counts = {
        "tests": str(len(report.results) + errors),
        "failures": str(failures),
        "errors": str(errors),
        "skipped": str(skipped),
        "time": f"{report.seconds:.3f}",
    }
    root = ET.Element("testsuites", {"name": "layerlab grade", **counts})
    suite = ET.SubElement(
        root, "testsuite", {"name": report.exercise, **counts, "timestamp": ctx.now.strftime("%Y-%m-%dT%H:%M:%S")}
    )
    props = ET.SubElement(suite, "properties")
    for name, value in (
        ("exercise", report.exercise),
        ("path", report.path),
        ("run_id", report.run_id),
        ("passed", str(report.passed).lower()),
        ("points", str(report.points)),
        ("max_points", str(report.max_points)),
        ("engine", report.engine),
        ("fixture", report.fixture),
        ("autograder", report.autograder),
        *(("flag", f) for f in report.flags),
    ):
        if value:
            ET.SubElement(props, "property", {"name": name, "value": value})
    classname = f"layerlab.{report.exercise}"
    for i, problem in enumerate(report.problems, 1):
        case = ET.SubElement(
            suite, "testcase", {"classname": classname, "name": f"submission problem {i}", "time": "0"}
        )
        ET.SubElement(case, "error", {"message": _first_line(problem), "type": "problem"}).text = problem
    for r in report.results:
        case = ET.SubElement(suite, "testcase", {"classname": classname, "name": r.title, "time": "0"})
        if r.status == "failed":
            el = ET.SubElement(
                case, "failure", {"message": _first_line(r.hint) or _first_line(r.detail) or "failed", "type": "failed"}
            )
            el.text = explain(r)
        elif r.status == "not run":
            ET.SubElement(case, "skipped", {"message": f"not run: {r.why}" if r.why else "not run"})
        out = f"points: {r.points}/{r.max_points}"  # a failure's text is in <failure> already
        text = "" if r.status == "failed" else explain(r)
        ET.SubElement(case, "system-out").text = f"{out}\n{text}" if text else out
    if report.notes:
        ET.SubElement(suite, "system-out").text = "\n".join(report.notes)
    for el in root.iter():
        el.text = _xml_text(el.text) if el.text else el.text
        for key, value in el.attrib.items():
            el.set(key, _xml_text(value))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
