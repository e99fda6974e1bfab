"""The helpers lessons call instead of plumbing in cells: scratch workspaces, the metadata-only
release, the lock's pin count and uv's install summary (offline: no engine)."""

from __future__ import annotations

from layerlab.course.lesson import Lesson
from layerlab.measure import cache

# A step's log as buildlog keeps it: BuildKit's "#12 1.203 " prefix already removed.
UV_LOG = [
    "Using CPython 3.13.5 interpreter at: /usr/local/bin/python3",
    "Resolved 8 packages in 3ms",
    "Prepared 7 packages in 1.20s",
    "Installed 8 packages in 97ms",
    " + numpy==2.3.1",
]


def test_uv_install_reads_what_uv_prepared_and_how_long_it_took():
    said = cache.uv_install(UV_LOG)
    assert said.prepared == 7 and said.prepare_seconds == 1.2
    assert said.lines == ["Resolved 8 packages in 3ms", "Prepared 7 packages in 1.20s", "Installed 8 packages in 97ms"]
    milliseconds = cache.uv_install(["Prepared 1 package in 250ms"])
    assert milliseconds.prepared == 1 and milliseconds.prepare_seconds == 0.25


def test_uv_install_with_nothing_prepared_says_zero():
    said = cache.uv_install(["Resolved 8 packages in 3ms", "Audited 8 packages in 1ms"])
    assert said.prepared == 0 and said.prepare_seconds == 0.0 and said.lines == ["Resolved 8 packages in 3ms"]


def test_bump_version_changes_only_the_version_and_never_repeats(tmp_path):
    p = tmp_path / "pyproject.toml"
    p.write_text('[project]\nname = "app"\nversion = "0.1.0"\n\n[tool.x]\ntarget-version = "py311"\n')
    first, second = cache.bump_version(p), cache.bump_version(p)
    assert first != second
    text = p.read_text()
    assert f'version = "{second}"' in text and 'target-version = "py311"' in text and 'name = "app"' in text


def test_pinned_packages_counts_pins_not_comments_or_hashes(tmp_path):
    lock = tmp_path / "requirements.lock"
    lock.write_text("# pinned\nnumpy==2.3.1 \\\n    --hash=sha256:abc\nsix==1.17.0\n\n# a==1\n")
    assert cache.pinned_packages(lock) == 2


def test_a_workspace_is_a_fresh_copy_with_the_variant_and_its_clutter(tmp_path):
    lesson = Lesson("03")
    here = lesson.folder
    clutter = {"data/features.bin": 1000, ".git/objects/x": 10}
    a = lesson.workspace("dockerignore", scratch=tmp_path, clutter=clutter)
    b = lesson.workspace("dockerignore", scratch=tmp_path, clutter=clutter)
    assert a != b and a.parent == tmp_path
    assert (a / "Dockerfile").read_text() == (here / "dockerignore" / "Dockerfile").read_text()
    assert (a / ".dockerignore").is_file() and (a / "predict.py").is_file()
    assert (a / "data/features.bin").read_bytes() == (b / "data/features.bin").read_bytes()  # the same bytes every run
    assert (a / "data/features.bin").stat().st_size == 1000
    (a / "predict.py").write_text("edited")
    assert (here / "app" / "predict.py").read_text() != "edited"


# --- the Lesson object: what a build call gets, without an engine ---


def _captured_build(monkeypatch):
    from layerlab.engine import build

    calls = []
    monkeypatch.setattr(build, "build", lambda context, tag, **kw: calls.append((context, tag, kw)) or tag)
    return calls


def test_a_lesson_knows_its_module_folder_and_tags():
    lesson = Lesson("03")
    assert (lesson.id, lesson.name) == ("03", "03-build-cache")
    assert Lesson("build-cache").folder == lesson.folder == lesson.app.parent
    assert lesson.tag("naive") == "layerlab/03-naive:lesson"
    assert lesson.dockerfile("naive") == lesson.folder / "naive" / "Dockerfile"


def test_an_unknown_variant_names_the_ones_that_exist():
    import pytest

    from layerlab.ground.errors import NotFound

    with pytest.raises(NotFound) as e:
        Lesson("03").dockerfile("nope")
    assert "naive" in str(e.value) and "ordered" in str(e.value) and not str(e.value).startswith("'")


def test_build_takes_the_variant_its_base_args_and_the_module_label(monkeypatch):
    monkeypatch.delenv("LAYERLAB_BASE_PYTHON_SLIM", raising=False)
    monkeypatch.setenv("LAYERLAB_BASE_PYTHON_FULL", "example/full:1")
    calls = _captured_build(monkeypatch)
    lesson = Lesson("04")
    lesson.build("multi-stage-test", variant="multi-stage", context=lesson.app, target="test", cache=False)
    context, tag, kw = calls[-1]
    assert context == lesson.app and tag == "layerlab/04-multi-stage-test:lesson"
    assert kw["dockerfile"] == lesson.dockerfile("multi-stage") and kw["module"] == "04"
    assert kw["build_args"] == {"PYTHON_SLIM": "python:3.13-slim", "PYTHON_FULL": "example/full:1"}
    assert kw["target"] == "test" and kw["cache"] is False


def test_build_from_a_context_with_its_own_dockerfile_and_extra_args(monkeypatch, tmp_path):
    calls = _captured_build(monkeypatch)
    lesson = Lesson("09")
    lesson.build("greet-1", variant="greet")
    context, tag, kw = calls[-1]
    assert context == lesson.path("greet") and kw["dockerfile"] is None  # the folder's own Dockerfile
    ws = tmp_path
    (ws / "Dockerfile").write_text("ARG PYTHON_SLIM=python:3.13-slim\nARG TOKEN\nFROM ${PYTHON_SLIM}\n")
    lesson.build("mine", context=ws, build_args={"TOKEN": "x"})
    context, tag, kw = calls[-1]
    assert context == ws and kw["dockerfile"] is None and set(kw["build_args"]) == {"PYTHON_SLIM", "TOKEN"}


def test_run_and_compose_carry_the_lesson(monkeypatch):
    from layerlab.engine import containers

    seen = {}
    monkeypatch.setattr(containers, "run", lambda image, command=None, **kw: seen.update(kw, image=image))
    lesson = Lesson("08")
    lesson.run("img", ["true"], memory="64m")
    assert seen == {"image": "img", "memory": "64m", "module": "08"}
    project = lesson.compose("race", "compose.race.yaml")
    assert project.name == "layerlab-08-race" and project.files == [str(lesson.folder / "compose.race.yaml")]


def test_builds_run_side_by_side_with_progress_lines_made_in_the_callers_thread(monkeypatch):
    import threading

    from layerlab.engine import progress

    made_in: list[str] = []
    monkeypatch.setattr(progress, "auto", lambda: made_in.append(threading.current_thread().name) or object())
    both_started = threading.Barrier(2, timeout=10)  # one after the other, the first would wait here for ever

    def build(self, name, *, show, **kw):
        both_started.wait()
        return (name, show, kw)

    monkeypatch.setattr(Lesson, "build", build)
    got = Lesson("06").builds({"runtime": "wheels-runtime", "slim": "wheels-slim"}, context="app")
    assert list(got) == ["runtime", "slim"]
    assert [g[0] for g in got.values()] == ["wheels-runtime", "wheels-slim"]
    assert all(g[2] == {"context": "app"} for g in got.values()) and got["runtime"][1] is not got["slim"][1]
    assert made_in == [threading.current_thread().name] * 2
