"""A check is one unit: a file that declares its course.yml model, what it records and its judgement.

No engine: a check defined in a file of its own (here in tmp) is known to course.yml's
schema, reports a typo with its own keys, and is judged by the grader, with no other edit.
"""

from __future__ import annotations

import importlib.util
import textwrap

import pytest

from layerlab import course
from layerlab.course import checkspec
from layerlab.grade import checks
from layerlab.grade.dockerfile import parse

from test_grade_static import EXERCISE, GOOD_DOCKERFILE, course_file, submission

UNIT = '''
from typing import Literal

from pydantic import Field

from layerlab.course.checkspec import CheckBase
from layerlab.grade.checks import Failed, check, records


class MentionsWord(CheckBase):
    check: Literal["tmp_mentions_word"]
    word: str = Field(description="a word the Dockerfile must contain")


@check(MentionsWord)
def mentions_word(ctx, spec: MentionsWord) -> str:
    text = " ".join(i.args for i in ctx.dockerfile.instructions)
    if spec.word not in text:
        raise Failed(f"no {spec.word!r} in the Dockerfile", f"mention {spec.word}")
    return f"mentions {spec.word}"


@records(MentionsWord)
def record(s, spec, f) -> None:
    f.paths_present[spec.word] = []
'''


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


def test_a_check_in_a_file_of_its_own_is_validated_and_judged(tmp_path, dummy_unit):
    p = course_file(tmp_path, _with("- check: tmp_mentions_word\n  word: pip\n"))
    ex = course.load(p).exercise("t-static")
    spec = ex.checks[-1]
    assert isinstance(spec, dummy_unit.MentionsWord) and spec.word == "pip" and spec.points == 1
    assert "tmp_mentions_word" in checks.RECORDERS

    d = submission(tmp_path)
    passed = checks.run_check(checks.Context(ex, d, parse(GOOD_DOCKERFILE), None, no_engine="no engine"), spec)
    assert (passed.status, passed.check, passed.detail) == ("passed", "tmp_mentions_word", "mentions pip")
    failed = checks.run_check(checks.Context(ex, d, parse("FROM scratch\n"), None), spec)
    assert failed.status == "failed" and failed.hint == "mention pip"


def test_a_typo_in_the_new_checks_keys_lists_its_keys(tmp_path, dummy_unit):
    p = course_file(tmp_path, _with("- check: tmp_mentions_word\n  wrd: pip\n"))
    with pytest.raises(course.CourseFileError) as e:
        course.load(p)
    assert "wrd: unknown key" in str(e.value) and "word" in str(e.value)


def test_once_forgotten_the_kind_is_unknown_again(tmp_path, dummy_unit):
    checkspec.unregister("tmp_mentions_word")
    with pytest.raises(course.CourseFileError, match="tmp_mentions_word"):
        course.load(course_file(tmp_path, _with("- check: tmp_mentions_word\n  word: pip\n")))


def test_two_models_cannot_claim_one_kind():
    from typing import Literal

    with pytest.raises(TypeError, match="declared twice"):
        class Impostor(checkspec.CheckBase):
            check: Literal["builds"]


def test_every_kind_has_a_judgement_and_every_judgement_a_kind():
    kinds = set(checkspec.models())
    assert kinds == set(checks.REGISTRY), (kinds ^ set(checks.REGISTRY))
    assert set(checks.RECORDERS) <= kinds
    assert {"builds", "runs_and_prints", "size_at_most", "compose_up_predicts", "pushed_image"} <= kinds


def test_the_course_layer_declares_no_check_kind():
    # course/ holds the extension point only; the kinds live with their judgement in grade/checks/.
    assert all(m.__module__.startswith("layerlab.grade.checks.") for m in checkspec.models().values())


def test_every_import_a_unit_makes_when_it_runs_resolves():
    # A unit imports some modules only when its check runs (compose, registry, leaks): a moved
    # file's relative import would fail only then, in the middle of a grading run.
    import ast
    import importlib
    from pathlib import Path

    package = Path(checks.__file__).parent
    for path in sorted(package.glob("*.py")):
        for fn in (n for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))):
            for node in (n for n in ast.walk(fn) if isinstance(n, ast.ImportFrom)):
                module = importlib.import_module(("." * node.level) + (node.module or ""), checks.__name__ if node.level else None)
                for alias in node.names:
                    assert hasattr(module, alias.name) or importlib.util.find_spec(f"{module.__name__}.{alias.name}"), (
                        f"{path.name}:{node.lineno}: {module.__name__} has no {alias.name}")
