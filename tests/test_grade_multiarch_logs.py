"""Exercise 05-multiarch judged on recorded BuildKit logs, no engine: what ran under emulation, on whichever
platform the engine is native to, and timings that concurrent builds on a shared engine cannot distort.

The two logs are real gradings on this machine's Docker 26 (amd64 engine, arm64 under qemu):
buildlog-05-solution.txt is the reference's cold build (its cross stage fetches apt packages for 38.8 s,
natively), buildlog-05-starter.txt the starter's (its arm64 pip step: 342.0 s under qemu).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from layerlab.engine import platforms
from layerlab.engine.build import BuildResult
from layerlab.engine.buildlog import parse
from layerlab.grade.checks import multiarch as m
from layerlab.grade.checks.base import Context, Failed, NotRun
from layerlab.grade.dockerfile import parse as parse_dockerfile
from test_engine_facts import facts

DATA = Path(__file__).parent / "data"
AMD64_ENGINE = "docker26-containerd-amd64-cgroup1"
ARM64_ENGINE = "desktop-arm64-containerd-cgroup2"


def result(text: str, seconds: float) -> BuildResult:
    return BuildResult(
        tag="t",
        image_id=None,
        platforms=["linux/amd64", "linux/arm64"],
        seconds=seconds,
        context_bytes=None,
        steps=parse(text.splitlines()).steps,
        cache=False,
    )


def mirrored(text: str) -> str:
    """The same build as an arm64 engine logs it: amd64 and arm64 swap places in every step's tag."""

    def swap(match: re.Match) -> str:
        return match.group(0).replace("amd64", "\0").replace("arm64", "amd64").replace("\0", "arm64")

    return re.sub(r"^#\d+ \[[^\]]*\]", swap, text, flags=re.MULTILINE)


def log(name: str) -> str:
    return (DATA / f"buildlog-05-{name}.txt").read_text()


SOLUTION, STARTER = log("solution"), log("starter")


def baseline(r: BuildResult, native: str, platform: str) -> m.Baseline:
    return m.Baseline(
        exercise="05-multiarch",
        engine="docker 26.1.5",
        native=native,
        platform=platform,
        emulated_seconds=m.emulated_seconds(r, native, platform),
        build_seconds=r.seconds,
        measured_at="2026-12-02T02:20:00+00:00",
        digest="d",
    )


# --- platforms come from the engine ----------------------------------------------------------


def test_the_emulated_platform_is_the_engines_foreign_one():
    assert m.judged(platforms.of(facts(AMD64_ENGINE))) == ("linux/amd64", "linux/arm64")
    assert m.judged(platforms.of(facts(ARM64_ENGINE))) == ("linux/arm64", "linux/amd64")
    assert m.judged(platforms.of(facts(ARM64_ENGINE)), "linux/arm64") == ("linux/arm64", "linux/arm64")


@pytest.mark.parametrize("engine_name, text", [(AMD64_ENGINE, SOLUTION), (ARM64_ENGINE, mirrored(SOLUTION))])
def test_the_reference_passes_on_an_amd64_and_an_arm64_engine(engine_name, text):
    native, emulated = m.judged(platforms.of(facts(engine_name)))
    mine = result(text, 60.0)
    theirs = result(STARTER if native == "linux/amd64" else mirrored(STARTER), 360.0)
    assert m.emulated_seconds(mine, native, emulated) == 0.0
    assert m.emulated_seconds(theirs, native, emulated) == 342.0
    assert "no RUN step ran under emulation" in m.judge_speedup(
        mine, baseline(theirs, native, emulated), native, emulated, 3, None
    )
    assert m.judge_emulated_steps(mine, native, 10.0, None).startswith("no install or compile step")


def test_on_an_arm64_engine_the_amd64_build_is_the_emulated_one():
    native, emulated = m.judged(platforms.of(facts(ARM64_ENGINE)))
    starter = result(mirrored(STARTER), 360.0)
    steps = m.emulated_run_steps(starter, native)
    assert [s.platform for s in steps] == ["linux/amd64"] and steps[0].seconds == 342.0
    # The amd64 engine's own log, read as if an arm64 engine had written it: its amd64 pip step is the emulated one.
    assert [s.seconds for s in m.emulated_run_steps(result(STARTER, 360.0), native)] == [17.8]


# --- cross_build_speedup: emulated work, not wall-clock of different kinds of work -------------


def test_a_slow_mirror_does_not_fail_the_reference():
    # The reference's native apt step made 40x slower (a slow mirror): nothing it does runs under qemu.
    slow = SOLUTION.replace("#8 DONE 38.8s", "#8 DONE 1552.0s")
    r = result(slow, 1600.0)
    detail = m.judge_speedup(
        r, baseline(result(STARTER, 360.0), "linux/amd64", "linux/arm64"), "linux/amd64", "linux/arm64", 3, None
    )
    assert "0.0 s of RUN steps under qemu, the starter's 342.0 s" in detail and "2026-12-02T02:20:00" in detail


def test_a_submission_that_still_installs_under_qemu_fails_with_its_slowest_steps():
    r = result(STARTER.replace("#17 DONE 342.0s", "#17 DONE 200.0s"), 230.0)
    with pytest.raises(Failed) as e:
        m.judge_speedup(
            r, baseline(result(STARTER, 360.0), "linux/amd64", "linux/arm64"), "linux/amd64", "linux/arm64", 3, None
        )
    assert "1.7 x less" in e.value.detail and "RUN pip install" in e.value.detail and "200.0 s" in e.value.detail
    assert "--platform=$BUILDPLATFORM" in e.value.hint


# --- concurrent builds: a merged step is detected, never judged ----------------------------------


def test_a_step_longer_than_its_build_is_a_merge_and_not_judged():
    # The starter's arm64 pip step reported as 342 s inside a 19.5 s build: BuildKit shared a vertex in progress.
    r = result(STARTER, 19.5)
    assert [s.seconds for s in m.merged_steps(r, "linux/amd64")] == [342.0]
    b = baseline(result(STARTER, 360.0), "linux/amd64", "linux/arm64")
    with pytest.raises(NotRun, match="concurrent build"):
        m.judge_speedup(r, b, "linux/amd64", "linux/arm64", 3, None)
    assert m.merged_steps(result(STARTER, 360.0), "linux/amd64") == []


def test_every_stage_that_can_be_emulated_is_unique_to_its_grading():
    text = (
        "# syntax=docker/dockerfile:1\nFROM --platform=$BUILDPLATFORM python:3.13-slim \\\n  AS builder\nRUN make\n"
        "FROM python:3.13-slim AS test\nRUN make check\nfrom --platform=${BUILDPLATFORM} scratch AS x\n"
        "FROM --platform=linux/amd64 scratch\nCOPY --from=builder /a /a\n"
    )
    out = m.busted(text, "abc123")
    assert out.splitlines() == [
        "# syntax=docker/dockerfile:1",
        "FROM --platform=$BUILDPLATFORM python:3.13-slim \\",
        "  AS builder",
        "RUN make",
        "FROM python:3.13-slim AS test",
        "ARG LAYERLAB_GRADE_RUN=abc123",
        "RUN make check",
        "from --platform=${BUILDPLATFORM} scratch AS x",
        "FROM --platform=linux/amd64 scratch",
        "ARG LAYERLAB_GRADE_RUN=abc123",
        "COPY --from=builder /a /a",
    ]
    assert m.busted(text, "abc123") != m.busted(text, "def456")


def test_a_merged_native_step_is_not_judged_and_distorts_nothing():
    # The reference's native apt step reported longer than its build: never judged, so no merge is reported.
    assert m.merged_steps(result(SOLUTION, 20.0), "linux/amd64") == []


# --- no_emulated_build_steps: what the emulated step did, not the words of its RUN -------------


def one_step(run: str, seconds: float, *log_lines: str, platform: str = "linux/arm64") -> BuildResult:
    body = "".join(f"#5 {0.1 + i:.3f} {line}\n" for i, line in enumerate(log_lines))
    return result(f"#5 [{platform} stage-1 2/3] {run}\n{body}#5 DONE {seconds}s\n", 60.0)


@pytest.mark.parametrize("seconds", [0.4, 3.9])  # 3.9 s: measured on this 2-core engine at load 12
def test_a_mkdir_under_emulation_passes(seconds):
    assert m.judge_emulated_steps(one_step("RUN mkdir /build", seconds), "linux/amd64", 10.0, None).startswith(
        "no install"
    )


def test_a_build_script_under_emulation_fails_by_its_duration():
    with pytest.raises(Failed) as e:
        m.judge_emulated_steps(one_step("RUN sh ./build.sh", 41.3), "linux/amd64", 10.0, "cause")
    assert (
        "RUN sh ./build.sh: 41.3 s under qemu" in e.value.detail
        and "more than 10 s" in e.value.detail
        and e.value.hint == "cause"
    )


def test_a_short_install_under_emulation_fails_by_its_log():
    r = one_step("RUN sh ./setup", 1.2, "Collecting tomli", "Successfully installed tomli-2.2.1")
    with pytest.raises(Failed) as e:
        m.judge_emulated_steps(r, "linux/amd64", 10.0, None)
    assert "Collecting tomli" in e.value.detail and "BUILDPLATFORM" in e.value.hint


def test_the_same_steps_on_the_native_platform_are_not_emulation():
    r = one_step("RUN sh ./build.sh", 41.3, platform="linux/amd64")
    assert m.judge_emulated_steps(r, "linux/amd64", 10.0, None).startswith("no install")


def test_the_starter_fails_on_its_emulated_pip_step():
    with pytest.raises(Failed) as e:
        m.judge_emulated_steps(result(STARTER, 360.0), "linux/amd64", 10.0, None)
    assert "342.0 s under qemu" in e.value.detail and "linux/arm64" in e.value.detail


# --- hints --------------------------------------------------------------------------------


def ctx(tmp_path, text: str) -> Context:
    return Context(None, tmp_path, parse_dockerfile(text), None)  # type: ignore[arg-type]  # only the Dockerfile is read


def solution_dockerfile() -> str:
    # Read when a test asks, not at import: a student release, which has no solutions/, still collects this file.
    return (Path(__file__).parents[1] / "solutions" / "05-multiarch" / "Dockerfile").read_text()


@pytest.mark.answers
def test_a_stage_without_arg_targetarch_is_named_in_the_hint(tmp_path):
    hint = m.foreign_code_hint(ctx(tmp_path, solution_dockerfile().replace("ARG TARGETARCH\n", "", 1)), "linux/arm64")
    assert "has no `ARG TARGETARCH`" in hint and "line " in hint


@pytest.mark.answers
def test_with_arg_targetarch_the_hint_names_the_fixed_architecture(tmp_path):
    hint = m.foreign_code_hint(ctx(tmp_path, solution_dockerfile()), "linux/amd64")
    assert "linux/amd64 image holds machine code built for another CPU" in hint


# --- the starter's baseline: measured once per engine and content, kept, reused --------------


def test_the_baseline_is_kept_per_engine_and_content(tmp_path, monkeypatch):
    monkeypatch.setenv("LAYERLAB_CACHE", str(tmp_path))
    b = baseline(result(STARTER, 360.0), "linux/amd64", "linux/arm64")
    path = m.baseline_path("05-multiarch", "docker 26.1.5", "linux/amd64", "linux/arm64", "d")
    assert m.load_baseline(path) is None
    m.save_baseline(path, b)
    assert m.load_baseline(path) == b and path.is_relative_to(tmp_path)
    others = {
        m.baseline_path("05-multiarch", "docker 28.5.2", "linux/amd64", "linux/arm64", "d"),
        m.baseline_path("05-multiarch", "docker 26.1.5", "linux/arm64", "linux/amd64", "d"),
        m.baseline_path("05-multiarch", "docker 26.1.5", "linux/amd64", "linux/arm64", "e"),
    }
    assert path not in others and len(others) == 3


def test_the_starter_digest_follows_its_content(tmp_path):
    # A folder of its own, not the solution's: the digest must follow the files' content too.
    paths = ["Dockerfile", "requirements.txt", "fastscore.c"]
    (tmp_path / "fastscore.c").write_text("int score;\n")
    a = m.starter_digest("05-multiarch", paths, "Dockerfile", "FROM python:3.13\n", tmp_path)
    assert a == m.starter_digest("05-multiarch", paths, "Dockerfile", "FROM python:3.13\n", tmp_path)
    assert a != m.starter_digest("05-multiarch", paths, "Dockerfile", "FROM python:3.13-slim\n", tmp_path)
    (tmp_path / "fastscore.c").write_text("int score = 1;\n")
    assert a != m.starter_digest("05-multiarch", paths, "Dockerfile", "FROM python:3.13\n", tmp_path)
