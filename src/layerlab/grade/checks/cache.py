"""Cache order: what a code edit re-runs, the install before the source, what .dockerignore keeps out."""

from __future__ import annotations

import fnmatch
import shutil
import tempfile
from pathlib import Path
from typing import Literal

from pydantic import Field

from layerlab.measure import cache, inspector
from layerlab.measure.inspector import short_instruction

from ..fixture import Fixture, Section
from ..subject import Subject
from .base import Context, Failed, NotRun, check, records
from .spec import CheckBase


class CodeEditRerunsAtMost(CheckBase):
    check: Literal["code_edit_reruns_at_most"]
    code_file: str = Field(description="the file edited (a comment appended) before the rebuild")
    allowance: int = Field(ge=0, default=0, description="steps re-run at most the fixture's plus this many")


class DependencyInstallBeforeSourceCopy(CheckBase):
    check: Literal["dependency_install_before_source_copy"]
    source: list[str] = Field(min_length=1, description="source files that must be copied after the dependency install")


class DockerignoreExcludes(CheckBase):
    check: Literal["dockerignore_excludes"]
    paths: list[str] = Field(min_length=1, description="paths (relative to the exercise) that must not reach the build")


class CodeEdits(Section):
    """The steps a code edit re-ran in the solution's build, by the file edited."""

    name = "code_edit_reruns"
    reruns: dict[str, list[str]] = Field(default_factory=dict)


# --- this unit's measurements of the subject, each taken once per grading run ------------------


def code_edit_reruns(s: Subject, code_file: str) -> list[str]:
    """Steps re-run when `code_file` changes by a comment line: build, edit a copy, rebuild."""

    def measure() -> list[str]:
        s.build()
        with tempfile.TemporaryDirectory(prefix="layerlab-grade-edit-") as tmp:
            work = Path(tmp) / "ctx"
            shutil.copytree(s.context, work, symlinks=True)
            if not (work / code_file).is_file():
                raise FileNotFoundError(f"{code_file} is not in the exercise folder")
            # The cache is keyed by content, not by folder, so the copy starts warm
            # from the submission's build; the edit then changes one file only.
            cache.touch(work / code_file)
            name = "edit-" + "".join(c if c.isalnum() else "-" for c in code_file).lower()[:40]
            r = s.session.build(work, name, dockerfile=work / s.exercise.dockerfile, timeout=s.limits.build_timeout_s)
        return [step.name for step in r.ran]

    return s.once(("cache", "code_edit", code_file), measure)


def sent_files(s: Subject) -> tuple[list[str], int | None]:
    """The files the build context really sends (after .dockerignore), and its size."""

    def measure() -> tuple[list[str], int | None]:
        with tempfile.TemporaryDirectory(prefix="layerlab-grade-ctx-") as tmp:
            probe = Path(tmp) / "probe.Dockerfile"
            # FROM scratch: the probe image holds the context and nothing else, so reading it back is quick.
            probe.write_text("FROM scratch\nCOPY . /ctx/\n")
            r = s.session.build(s.context, "context", dockerfile=probe, timeout=s.limits.build_timeout_s)
        report = inspector.inspect(r.tag)
        return sorted(p.removeprefix("/ctx/") for p in report.files if p.startswith("/ctx/")), r.context_bytes

    return s.once(("cache", "sent_files"), measure)


@check(CodeEditRerunsAtMost)
def code_edit_reruns_at_most(ctx: Context, spec: CodeEditRerunsAtMost) -> str:
    s = ctx.need_subject()
    recorded = ctx.need_fixture().section(CodeEdits) or CodeEdits()
    if spec.code_file not in recorded.reruns:
        raise NotRun(
            f"the fixture has no code-edit measurement for {spec.code_file}: run `layerlab record {ctx.exercise.id}`"
        )
    allowed = len(recorded.reruns[spec.code_file]) + spec.allowance
    try:
        ran = code_edit_reruns(s, spec.code_file)
    except FileNotFoundError as e:
        raise Failed(str(e), f"keep {spec.code_file} where the exercise put it") from None
    detail = f"editing {spec.code_file} re-runs {len(ran)} step(s), at most {allowed} allowed"
    if len(ran) > allowed:
        raise Failed(
            detail + "\nre-ran: " + "; ".join(short_instruction(r, 50) for r in ran),
            f"a step that does not depend on {spec.code_file} comes after the COPY that brings it in: "
            "install dependencies first, copy the code last",
        )
    return detail


_INSTALL = ("pip install", "pip3 install", "uv pip install", "uv sync", "poetry install", "conda install",
            "mamba install", "npm install", "npm ci")  # fmt: skip


@check(DependencyInstallBeforeSourceCopy)
def dependency_install_before_source_copy(ctx: Context, spec: DependencyInstallBeforeSourceCopy) -> str:
    stage = ctx.dockerfile.final_stage()
    installs = [i for i in stage if i.keyword == "RUN" and any(w in " ".join(i.args.split()) for w in _INSTALL)]
    if not installs:
        raise Failed(
            "no RUN installs dependencies in the final stage", "install the dependencies with a RUN (pip install ...)"
        )
    install = installs[0]
    for ins in stage:
        if ins.keyword not in ("COPY", "ADD") or "from" in ins.flags:
            continue
        hits = [src for src in ins.sources() for want in spec.source if _copies(src, want)]
        if hits and ins.line < install.line:
            raise Failed(
                f"line {ins.line} copies {', '.join(hits)} before the dependency install on line {install.line}",
                "every edit of the code then re-runs the install: copy the dependency list, install, then copy the code",
            )
    return f"the dependency install (line {install.line}) comes before the source is copied"


def _copies(src: str, want: str) -> bool:
    src = src.rstrip("/").removeprefix("./") or "."
    return src == "." or fnmatch.fnmatch(want, src) or want.startswith(src + "/")


@check(DockerignoreExcludes)
def dockerignore_excludes(ctx: Context, spec: DockerignoreExcludes) -> str:
    s = ctx.need_subject()
    files, context_bytes = sent_files(s)
    leaked = sorted({p for p in spec.paths for f in files if f == p.strip("/") or f.startswith(p.strip("/") + "/")})
    size = f"{context_bytes / 1e3:.1f} kB" if context_bytes is not None else "an unknown size"
    detail = f"the build context sends {len(files)} file(s), {size}"
    if leaked:
        raise Failed(
            detail + f"; it includes {', '.join(leaked)}",
            "add these paths to .dockerignore at the root of the build context (or in <Dockerfile>.dockerignore "
            "beside the Dockerfile) so they never reach the builder; `**/name` matches at any depth, "
            "and .gitignore's syntax differs, so do not copy it",
        )
    return detail + "; none of the excluded paths"


@records(CodeEditRerunsAtMost)
def record(s: Subject, spec: CodeEditRerunsAtMost, f: Fixture) -> None:
    recorded = f.section(CodeEdits) or CodeEdits()
    recorded.reruns[spec.code_file] = code_edit_reruns(s, spec.code_file)
    f.put(recorded)
