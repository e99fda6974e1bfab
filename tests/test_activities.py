"""Predict-then-measure, challenges and quizzes: every lesson has them, they run unattended,
an answer changes what the widget shows, and no answer or solution leaks into a static page."""

import html
import json
import re
from pathlib import Path

import pytest

import executed
from layerlab import course
from layerlab.course import REPO, activities, challenges

COURSE = course.load()
MODULES = [m.id for m in COURSE.modules]


def source(m: course.Module) -> str:
    return (REPO / m.notebook).read_text(encoding="utf-8")


@pytest.mark.parametrize("mid", MODULES)
def test_every_lesson_has_two_predictions_a_challenge_and_three_questions(mid):
    m = COURSE.module(mid)
    assert len(m.predictions) >= 2, f"{mid}: at least two predictions"
    assert len(m.challenges) >= 1, f"{mid}: at least one challenge"
    assert len(m.quiz) >= 3, f"{mid}: at least three questions"


@pytest.mark.parametrize("mid", MODULES)
def test_the_lesson_asks_reveals_checks_and_quizzes_what_course_yml_declares(mid):
    m, text = COURSE.module(mid), source(COURSE.module(mid))
    for p in m.predictions:
        call = re.search(rf'(\w+) = activities\.predict\("{mid}", "{p.id}"\)', text)
        assert call, f"{m.notebook} never asks prediction {p.id}"
        handle = call.group(1)
        asked, revealed = text.index(call.group(0)), text.find(f"{handle}.reveal(")
        assert revealed > asked, f"{m.notebook}: {p.id} is asked but never revealed after"
    for c in m.challenges:
        assert f'layerlab.check("{c.id}"' in text, f"{m.notebook}: no quick check of {c.id}"
        assert f'activities.solution("{c.id}")' in text, f"{m.notebook}: no solution button for {c.id}"
    assert f'activities.quiz("{mid}")' in text


@pytest.mark.answers
@pytest.mark.parametrize("mid", MODULES)
def test_no_challenge_solution_is_in_the_lessons_source(mid):
    m, text = COURSE.module(mid), source(COURSE.module(mid))
    for c in m.challenges:
        solution = (REPO / c.solution).read_text(encoding="utf-8")
        body = [
            line for line in solution.splitlines() if line.strip() and not line.startswith(("#", "from ", "import "))
        ]
        assert not any(line in text for line in body if len(line) > 25), (
            f"the solution of {c.id} is in the lesson's source"
        )


def test_a_prediction_without_a_guess_says_so_and_goes_on(capsys):
    p = activities.predict("01", "startup-ratio")
    p.reveal(12.345)
    out = capsys.readouterr().out
    assert "no guess entered: measured 12.3 x" in out
    assert p.spec.why in out
    assert p.revealed.guess is None


def test_a_guess_changes_what_the_reveal_shows(capsys):
    p = activities.predict("03", "naive-code-edit-steps")
    p.reveal(3)
    before = p.result.value
    p.guess.value = "1"
    p.reveal(3)
    assert p.result.value != before
    assert "your guess 1 steps, measured 3 steps: the measurement is 3 times your guess" in p.result.value
    assert p.revealed.guess == 1.0
    assert "your guess 1 steps" in capsys.readouterr().out


@pytest.mark.parametrize(
    "guess,measured,words",
    [
        ("10", 10.5, "within 10%"),
        ("2", 20, "10 times"),
        ("40", 10, "4 times the measurement"),
        ("1,5", 1.5, "exactly"),
    ],
)
def test_guesses_are_compared_in_words(guess, measured, words):
    assert words in activities.compare(activities.parse_number(guess), measured)


def test_the_static_page_of_a_prediction_holds_no_explanation():
    p = activities.predict("02", "trap-added-mb")
    bundle = p._repr_mimebundle_()
    assert p.spec.question in bundle["text/html"]
    assert p.spec.why not in bundle["text/html"] and p.spec.why not in bundle["text/plain"]


@pytest.mark.parametrize("mid", MODULES)
def test_a_quiz_hides_answers_until_answered(mid):
    q = activities.quiz(mid)
    static = json.dumps(q._repr_mimebundle_())
    for question, w in zip(COURSE.module(mid).quiz, q.questions):
        assert question.explanation not in static
        assert w.feedback.value == "", "the saved widget state must not hold the explanation"
    first = q.questions[0]
    right = first.q.answer
    assert first.answer(right if first.q.choices else str(right)) is True
    assert "Right." in first.feedback.value and html.escape(first.q.explanation) in first.feedback.value
    wrong = next((c for c in first.q.choices or [] if c != right), "123456")
    assert first.answer(wrong) is False
    assert "Not quite" in first.feedback.value


def test_a_numeric_question_accepts_its_tolerance():
    q = course.Question(prompt="p", answer=10, tolerance=0.5, explanation="e")
    assert activities.is_right(q, "10.4") and not activities.is_right(q, "11") and not activities.is_right(q, "")


@pytest.mark.answers
@pytest.mark.parametrize("cid", [c.id for m in COURSE.modules for c in m.challenges])
def test_a_solution_stays_hidden_until_the_button_is_pressed(cid):
    s = activities.solution(cid)
    text = (REPO / s.spec.solution).read_text(encoding="utf-8")
    static = json.dumps(s._repr_mimebundle_())
    key = next(line for line in text.splitlines() if line.strip() and not line.startswith("#"))
    assert key not in static and s.out.value == ""
    s.button.click()
    assert "<pre>" in s.out.value and key.split("=")[0].strip() in s.out.value


@pytest.mark.parametrize("cid", [c.id for m in COURSE.modules for c in m.challenges])
def test_a_check_with_no_answer_goes_on(cid):
    assert cid in challenges.CHECKS, f"no quick check registered for {cid}"
    out = challenges.check(cid, None)
    assert out.passed is None and "no answer yet" in out.text


def test_a_check_that_breaks_reports_instead_of_raising():
    out = challenges.check("00-arm64-python", "not a run result")
    assert out.passed is False and "could not run" in out.text


def test_an_unknown_challenge_fails_loudly():
    with pytest.raises(KeyError):
        challenges.check("99-nothing", None)


def test_layerlab_check_is_the_quick_check():
    import layerlab

    assert layerlab.check is challenges.check


@pytest.mark.answers
@pytest.mark.slow
@pytest.mark.reads_executed_lessons
def test_executed_pages_do_not_show_solutions_or_answers(tmp_path, engine_client):
    """The HTML of each executed lesson holds no solution and no quiz explanation.

    Every lesson as executed in this session: what nbval ran (make test), else a headless run here.
    Never build/html, which an old `layerlab run` may have left: a page from before a leak passes."""
    texts = {m.id: executed.lesson(m, tmp_path).html for m in COURSE.modules}
    for mid, text in texts.items():
        page = Path(f"{mid}.html")
        m = COURSE.module(mid)
        for q in m.quiz:
            for frag in {q.explanation[:40], html.escape(q.explanation[:40]), json.dumps(q.explanation[:40])[1:-1]}:
                assert frag not in text, f"{page.name} shows the explanation of {q.prompt!r}"
        # Lines the lesson itself shows (its Dockerfiles) are no leak: the solution reuses them.
        shown = "\n".join(
            p.read_text(errors="replace") for p in (REPO / "docker" / "lessons").glob(f"{mid}-*/**/*") if p.is_file()
        )
        for c in m.challenges:
            body = [
                line
                for line in (REPO / c.solution).read_text().splitlines()
                if len(line) > 25 and not line.startswith(("#", "from ", "import ")) and line.strip() not in shown
            ]
            title = (REPO / c.solution).read_text().splitlines()[0]  # "# Challenge <id>: one solution."
            assert title not in text, f"{page.name} shows the solution of {c.id}"
            assert not [line for line in body if line in text], f"{page.name} shows the solution of {c.id}"


BAD_QUESTIONS = [
    ({"prompt": "p", "choices": ["a", "b"], "answer": "c", "explanation": "e"}, "one of the choices"),
    ({"prompt": "p", "choices": ["a"], "answer": "a", "explanation": "e"}, "two or more"),
    ({"prompt": "p", "answer": "a", "explanation": "e"}, "must be a number"),
    ({"prompt": "p", "choices": ["a", "b"], "answer": "a"}, "explanation"),
    ({"prompt": "p", "choices": ["a", "b"], "answer": "a", "explanation": "e", "tolerance": 1}, "tolerance"),
]


@pytest.mark.parametrize("question,says", BAD_QUESTIONS)
def test_the_schema_rejects_a_malformed_question(tmp_path, question, says):
    import yaml

    data = yaml.safe_load((REPO / "course.yml").read_text())
    data["modules"] = [data["modules"][0]]
    data["modules"][0]["quiz"] = [question]
    data["modules"][0]["challenges"] = []
    data["exercises"] = []
    (tmp_path / "notebooks").mkdir()
    (tmp_path / data["modules"][0]["notebook"]).write_text("# %%\n")
    p = tmp_path / "course.yml"
    p.write_text(yaml.safe_dump(data))
    with pytest.raises(course.CourseFileError, match=says):
        course.load(p)


def test_the_schema_rejects_a_challenge_without_its_solution_file(tmp_path):
    import yaml

    data = yaml.safe_load((REPO / "course.yml").read_text())
    data["modules"] = [data["modules"][0]]
    data["modules"][0]["challenges"][0]["solution"] = "notebooks/solutions/missing.py"
    data["exercises"] = []
    (tmp_path / "notebooks").mkdir()
    (tmp_path / data["modules"][0]["notebook"]).write_text("# %%\n")
    p = tmp_path / "course.yml"
    p.write_text(yaml.safe_dump(data))
    with pytest.raises(course.CourseFileError, match="does not exist"):
        course.load(p)


# --- the quick checks on a real engine: each solution passes, an untouched attempt does not ---

HOG = """
chunks = []
for step in range(1, 11):
    chunks.append(b"x" * (16 * 2**20))
    print(f"{step * 16} MiB allocated", flush=True)
print("done")
"""


def solution_namespace(cid: str, **given) -> dict:
    ns = dict(given)
    exec((REPO / COURSE.challenge(cid).solution).read_text(encoding="utf-8"), ns)
    return ns


@pytest.mark.answers
def test_the_arm64_challenge(engine_client):
    from layerlab.engine import containers

    assert challenges.check("00-arm64-python", solution_namespace("00-arm64-python")["result"]).passed
    native = containers.run("python:3.13-slim", ["python", "--version"], module="00")
    out = challenges.check("00-arm64-python", native)
    assert out.passed is False and "FIX   platform" in out.text


@pytest.mark.answers
def test_the_smallest_limit_challenge(engine_client):
    smallest = solution_namespace("01-smallest-limit", HOG=HOG)["smallest"]
    assert challenges.check("01-smallest-limit", smallest, program=HOG).passed
    assert challenges.check("01-smallest-limit", smallest + 64, program=HOG).passed is False


@pytest.mark.answers
def test_the_lean_git_challenge(engine_client):
    assert challenges.check("02-lean-git", solution_namespace("02-lean-git")["LEAN_GIT"]).passed
    trap = "FROM python:3.13-slim\nRUN apt-get update && apt-get install -y git\nRUN rm -rf /var/lib/apt/lists/*\n"
    out = challenges.check("02-lean-git", trap)
    assert out.passed is False and "ssh" in out.text and "wasted" in out.text


@pytest.mark.answers
def test_the_dockerignore_challenge(engine_client, tmp_path):
    import shutil

    lessons = REPO / "docker" / "lessons" / "03-build-cache"
    shutil.copytree(lessons / "app", tmp_path / "ws")
    shutil.copy(lessons / "naive" / "Dockerfile", tmp_path / "ws" / "Dockerfile")
    for name in ("data/features.bin", ".venv/lib/libfake.so", ".git/objects/pack/pack-1.pack"):
        (tmp_path / "ws" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "ws" / name).write_bytes(b"\0" * 300_000)
    assert challenges.check(
        "03-dockerignore", solution_namespace("03-dockerignore")["IGNORE"], workspace=tmp_path / "ws"
    ).passed
    out = challenges.check("03-dockerignore", "data/\n", workspace=tmp_path / "ws")
    assert out.passed is False and ".venv" in out.text


@pytest.mark.answers
def test_the_non_root_challenge(engine_client):
    from layerlab.course.lesson import Lesson

    lesson = Lesson("04")
    app = lesson.app
    one_run = lesson.build("one-run", context=app, show=None)
    expected = lesson.run(one_run.tag).output
    as_user = solution_namespace("04-non-root")["AS_USER"]
    assert challenges.check("04-non-root", as_user, context=app, expected_output=expected).passed
    out = challenges.check(
        "04-non-root", lesson.dockerfile("one-run").read_text(), context=app, expected_output=expected
    )
    assert out.passed is False and "USER" in out.text


@pytest.mark.answers
def test_the_arm64_digest_challenge(engine_client):
    import subprocess

    from layerlab.engine import registry

    registry.up_live()
    ref = f"{registry.address()}/layerlab-test-challenge:two-platforms"
    subprocess.run(["docker", "tag", "python:3.13-slim", ref], check=True, timeout=60)
    try:
        subprocess.run(["docker", "push", "--quiet", ref], check=True, capture_output=True, timeout=600)
        ix = registry.index_live(ref)
        digest = solution_namespace("05-arm64-digest", ix=ix)["ARM64_DIGEST"]
        assert challenges.check("05-arm64-digest", digest, ref=ref).passed
        wrong = challenges.check("05-arm64-digest", ix.entry("linux/amd64").digest, ref=ref)
        assert wrong.passed is False and "linux/amd64" in wrong.text
        index_given = challenges.check("05-arm64-digest", ix.digest, ref=ref)
        assert index_given.passed is False and "index" in index_given.text
    finally:
        subprocess.run(["docker", "image", "rm", ref], capture_output=True, timeout=60)


@pytest.mark.answers
def test_the_no_leak_challenge(engine_client, tmp_path):
    from layerlab.course.lesson import Lesson
    from layerlab.engine import build, containers
    from layerlab.measure import leaks

    here = Lesson("09").path("secrets")
    token = leaks.new_token()
    ctx = leaks.locked_context(here / "app", here / "model.json", token, tmp_path / "ctx")
    ref = build.build(
        ctx,
        "layerlab/09-challenge-reference:lesson",
        dockerfile=here / "secret-mount" / "Dockerfile",
        module="09",
        show=None,
        secrets=[f"id=unlock_token,src={ctx / 'unlock.token'}"],
    )
    expected = containers.run(ref.tag, module="09").output
    fixed = solution_namespace("09-no-leak")["FIXED"]
    assert challenges.check("09-no-leak", fixed, context=ctx, token=token, expected_output=expected).passed
    leaky = challenges.check(
        "09-no-leak",
        (here / "copy-delete" / "Dockerfile").read_text(),
        context=ctx,
        token=token,
        expected_output=expected,
    )
    assert leaky.passed is False and "/tmp/unlock.token" in leaky.text and token not in leaky.text


def test_the_instructor_export_lists_every_question_with_its_answer(capsys):
    from layerlab import cli

    assert cli.main(["activities", "--json"]) == 0
    exported = json.loads(capsys.readouterr().out)
    assert [m["module"] for m in exported] == MODULES
    for m in exported:
        for q, declared in zip(m["quiz"], COURSE.module(m["module"]).quiz):
            assert q["answer"] == declared.answer and q["explanation"] == declared.explanation
