"""BuildKit plain-progress parsing, on logs recorded from real builds (tests/data/buildlog-*.txt)."""

from pathlib import Path

from layerlab.engine import buildlog

DATA = Path(__file__).parent / "data"


def log(name):
    return buildlog.parse((DATA / f"buildlog-{name}.txt").read_text().splitlines())


def names(steps):
    return sorted(s.name for s in steps)


def test_cold_build_runs_every_instruction():
    b = log("cold")
    assert len(b.instructions()) == 6
    # Every COPY and RUN executes; BuildKit still reports a bare WORKDIR as cached.
    assert {s.instruction for s in b.cached()} <= {"WORKDIR"}
    assert {s.instruction for s in b.ran()} == {"COPY", "RUN"} and len(b.ran()) == 4
    run = next(s for s in b.instructions() if s.name.startswith('RUN echo "installing'))
    assert run.seconds >= 1.0  # it sleeps 1 s
    assert "installing numpy" in run.log


def test_unchanged_rebuild_is_all_cache():
    b = log("warm")
    assert b.ran() == []
    assert len(b.cached()) == 5


def test_code_edit_reruns_the_copy_and_everything_after_it():
    b = log("code-edit")
    assert names(b.ran()) == ["COPY app.py .", "RUN echo built > /built.txt"]
    assert "COPY requirements.txt ." in names(b.cached())
    assert [s.index for s in sorted(b.ran(), key=lambda s: s.index)] == [5, 6]


def test_context_size_is_read():
    assert log("cold").context_bytes is not None


def test_failed_step_is_found_with_its_output():
    b = log("error")
    failed = b.failed()
    assert failed is not None
    assert failed.name == "RUN echo step-output && exit 7"
    assert "exit code: 7" in failed.error
    assert "step-output" in failed.log


def test_multiplatform_steps_carry_their_platform():
    b = log("multiplatform")
    plats = {s.platform for s in b.instructions()}
    assert plats == {"linux/amd64", "linux/arm64"}
    assert len(b.instructions()) == 12


def test_progress_shows_step_starts_and_outcomes_only():
    assert buildlog.progress_line("#5 [2/3] RUN pip install x") is not None
    assert buildlog.progress_line("#5 CACHED") is not None
    assert buildlog.progress_line("#5 0.512 Collecting numpy") is None


def test_a_cross_stage_counts_for_its_target_and_runs_on_the_build_platform():
    """`[linux/amd64->arm64 builder 4/6]`: a stage FROM --platform=$BUILDPLATFORM building for arm64 (lesson 05)."""
    from layerlab.engine.build import BuildResult

    b = log("cross")
    cross = [s for s in b.instructions() if s.runs_on]
    assert cross and {(s.platform, s.runs_on, s.stage) for s in cross} == {("linux/arm64", "linux/amd64", "builder")}
    assert {s.platform for s in b.instructions()} == {"linux/amd64", "linux/arm64"}
    r = BuildResult(
        tag="t", image_id=None, platforms=["linux/amd64", "linux/arm64"], seconds=1.0, context_bytes=None, steps=b.steps
    )
    secs = r.platform_seconds()
    assert secs["linux/arm64"] == round(sum(s.seconds for s in b.ran() if s.platform == "linux/arm64"), 3) > 0
    assert r.emulated(host="linux/amd64") == [], "nothing ran under qemu: the arm64 RUNs are in the cross stage"
    assert r.emulated(host="linux/arm64"), "seen from an arm64 host, the amd64 RUNs would be the emulated ones"


def test_steps_built_for_a_foreign_platform_count_as_emulated():
    from layerlab.engine.build import BuildResult

    b = log("multiplatform")
    r = BuildResult(
        tag="t", image_id=None, platforms=["linux/amd64", "linux/arm64"], seconds=1.0, context_bytes=None, steps=b.steps
    )
    assert all(s.platform == "linux/arm64" and s.name.startswith("RUN") for s in r.emulated(host="linux/amd64"))
    assert r.emulated("linux/arm64", host="linux/amd64") == r.emulated(host="linux/amd64")
