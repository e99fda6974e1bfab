"""A check is one unit: a file that declares its course.yml model, what it records and its judgement.

No engine: a check defined in a file of its own (here in tmp) is known to the grader's
reading of course.yml, reports a typo with its own keys, records its own fixture section
and is judged when an exercise is graded, with no other edit.
"""

from __future__ import annotations

import importlib.util
import textwrap

import pytest

from layerlab import course
from layerlab.grade import checks, exercise
from layerlab.grade.checks import spec as checkspec
from layerlab.grade.dockerfile import parse
from layerlab.grade.runner import grade
from test_grade_static import EXERCISE, GOOD_DOCKERFILE, course_file, submission

UNIT = """
from typing import ClassVar, Literal

from pydantic import Field

from layerlab.grade.checks import CheckBase, Failed, check, records
from layerlab.grade.fixture import Section


class Mentions(Section):
    name = "tmp_mentions_word"
    lines: dict[str, int] = Field(default_factory=dict)


class MentionsWord(CheckBase):
    check: Literal["tmp_mentions_word"]
    word: str = Field(description="a word the Dockerfile must contain")

    order: ClassVar[int] = -2  # before `builds`

    def prepare(self, ctx) -> None:
        ctx.extras["tmp_mentions_word"] = "prepared"


def _count(dockerfile, word: str) -> int:
    return sum(word in i.args for i in dockerfile.instructions)


@check(MentionsWord)
def mentions_word(ctx, spec: MentionsWord) -> str:
    if not _count(ctx.dockerfile, spec.word):
        raise Failed(f"no {spec.word!r} in the Dockerfile", f"mention {spec.word}")
    recorded = ctx.fixture.section(Mentions) if ctx.fixture else None
    if recorded is not None and _count(ctx.dockerfile, spec.word) < recorded.lines[spec.word]:
        raise Failed(f"fewer lines mention {spec.word} than the reference's", "mention it more")
    return f"mentions {spec.word} ({ctx.extras['tmp_mentions_word']})"


@records(MentionsWord)
def record(s, spec, f) -> None:
    from layerlab.grade.dockerfile import parse

    f.put(Mentions(lines={spec.word: _count(parse(s.dockerfile.read_text()), spec.word)}))
"""


@pytest.fixture
def dummy_unit(tmp_path):
    path = tmp_path / "mentions_word.py"
    path.write_text(UNIT)
    spec = importlib.util.spec_from_file_location("tmp_check_unit", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    checkspec.unregister("tmp_mentions_word")
    checks.REGISTRY.pop("tmp_mentions_word", None)
    checks.RECORDERS.pop("tmp_mentions_word", None)


def _with(snippet: str) -> str:
    return EXERCISE.replace("      - check: hadolint\n", textwrap.indent(textwrap.dedent(snippet), " " * 6))


def test_a_check_in_a_file_of_its_own_is_validated_judged_and_graded(tmp_path, dummy_unit, monkeypatch):
    p = course_file(tmp_path, _with("- check: tmp_mentions_word\n  word: pip\n"))
    ex = exercise.load("t-static", p)
    spec = ex.checks[-1]
    assert isinstance(spec, dummy_unit.MentionsWord) and spec.word == "pip" and spec.points == 1
    assert "tmp_mentions_word" in checks.RECORDERS
    assert ex.ordered()[0] is spec  # its own run order, before `builds`

    d = submission(tmp_path)
    ctx = checks.Context(ex, d, parse(GOOD_DOCKERFILE), None, no_engine="no engine")
    spec.prepare(ctx)
    passed = checks.run_check(ctx, spec)
    assert (passed.status, passed.check, passed.detail) == ("passed", "tmp_mentions_word", "mentions pip (prepared)")
    failed = checks.run_check(checks.Context(ex, d, parse("FROM scratch\n"), None), spec)
    assert failed.status == "failed" and failed.hint == "mention pip"

    # The whole grading run, no engine: the runner prepares and runs the new kind with no other edit.
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    report = grade(d, "t-static", course_file=p)
    got = {r.check: r for r in report.results}
    assert got["tmp_mentions_word"].status == "passed", report.table()
    assert got["tmp_mentions_word"].detail == "mentions pip (prepared)"
    assert [r.check for r in report.results][-1] == "tmp_mentions_word"  # reported in course.yml's order


def test_the_new_check_reads_back_the_section_it_records(tmp_path, dummy_unit):
    from layerlab.grade.fixture import Fixture

    p = course_file(tmp_path, _with("- check: tmp_mentions_word\n  word: pip\n"))
    ex = exercise.load("t-static", p)
    spec = ex.checks[-1]
    d = submission(tmp_path, GOOD_DOCKERFILE + "RUN pip --version\n")

    class Solution:  # what a recorder reads of the subject here: its Dockerfile
        dockerfile = d / "Dockerfile"

    fx = Fixture(
        exercise="t-static",
        recorded_at="-",
        engine="-",
        host_platform="-",
        solution_digest="-",
        size_bytes=1,
        compressed_bytes=1,
        layers=1,
        layer_sizes=[1],
        wasted_bytes=0,
        user="",
        entrypoint=None,
        cmd=None,
        context_bytes=None,
    )
    checks.RECORDERS["tmp_mentions_word"](Solution(), spec, fx)  # type: ignore[arg-type]
    assert fx.sections == {"tmp_mentions_word": {"lines": {"pip": 2}}}
    fewer = checks.run_check(
        checks.Context(ex, d, parse(GOOD_DOCKERFILE), None, fixture=fx, extras={"tmp_mentions_word": "x"}), spec
    )
    assert fewer.status == "failed" and "fewer lines" in fewer.detail
    loaded = Fixture.model_validate_json(fx.model_dump_json())
    assert loaded.section(dummy_unit.Mentions) == dummy_unit.Mentions(lines={"pip": 2})


def test_a_typo_in_the_new_checks_keys_lists_its_keys(tmp_path, dummy_unit):
    p = course_file(tmp_path, _with("- check: tmp_mentions_word\n  wrd: pip\n"))
    with pytest.raises(exercise.ExerciseError) as e:
        exercise.load("t-static", p)
    assert "wrd: unknown key" in str(e.value) and "word" in str(e.value)


def test_once_forgotten_the_kind_is_unknown_again(tmp_path, dummy_unit):
    checkspec.unregister("tmp_mentions_word")
    with pytest.raises(exercise.ExerciseError, match="unknown check kind 'tmp_mentions_word'"):
        exercise.load("t-static", course_file(tmp_path, _with("- check: tmp_mentions_word\n  word: pip\n")))


def test_two_models_cannot_claim_one_kind():
    from typing import Literal

    with pytest.raises(TypeError, match="declared twice"):

        class Impostor(checkspec.CheckBase):
            check: Literal["builds"]


def test_every_kind_has_a_judgement_and_every_judgement_a_kind():
    kinds = set(checkspec.models())
    assert kinds == set(checks.REGISTRY), kinds ^ set(checks.REGISTRY)
    assert set(checks.RECORDERS) <= kinds
    assert {"builds", "runs_and_prints", "size_at_most", "compose_up_predicts", "pushed_image"} <= kinds


def test_the_course_layer_declares_no_check_kind():
    # The kinds, their models and their registry live with their judgement in grade/checks/; the
    # course layer reads a check's kind, points and required flag, and keeps the rest as written.
    assert all(m.__module__.startswith("layerlab.grade.checks.") for m in checkspec.models().values())
    raw = course.load().exercises[0].checks[0]
    assert type(raw) is course.CheckEntry


def test_every_import_a_unit_makes_when_it_runs_resolves():
    # A unit imports some modules only when its check runs (compose, registry, leaks): a moved
    # file's relative import would fail only then, in the middle of a grading run.
    import ast
    import importlib
    from pathlib import Path

    package = Path(checks.__file__).parent
    for path in sorted(package.glob("*.py")):
        for fn in (
            n for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
        ):
            for node in (n for n in ast.walk(fn) if isinstance(n, ast.ImportFrom)):
                module = importlib.import_module(
                    ("." * node.level) + (node.module or ""), checks.__name__ if node.level else None
                )
                for alias in node.names:
                    assert hasattr(module, alias.name) or importlib.util.find_spec(f"{module.__name__}.{alias.name}"), (
                        f"{path.name}:{node.lineno}: {module.__name__} has no {alias.name}"
                    )
