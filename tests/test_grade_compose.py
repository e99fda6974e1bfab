"""Exercise 08-compose: the solution passes and the starter fails, graded side by side; broken compose files
fail a check with a reason, within the limit; nothing of a grading run's project is left, however it ends."""

from __future__ import annotations

import shutil
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from layerlab import engine
from layerlab.course import REPO
from layerlab.engine import compose
from layerlab.grade import checks
from layerlab.grade import fixture as fixture_mod
from layerlab.grade.checks.compose import Answered, compose_up
from layerlab.grade.runner import grade
from layerlab.grade.sandbox import RUN_LABEL
from test_grade_static import course_file

pytestmark = pytest.mark.usefixtures("engine_client")

EXERCISE = "08-compose"


def leftovers(run_id: str) -> list[str]:
    c = engine.client()
    flt = [("label", f"{RUN_LABEL}={run_id}")]
    found = [f"container {x.name}" for x in c.container.list(all=True, filters=flt)]
    found += [f"network {x.name}" for x in c.network.list(filters=flt)]
    found += [f"volume {x.name}" for x in c.volume.list(filters=flt)]
    project = f"layerlab-grade-{EXERCISE}-{run_id}"
    found += [
        f"project container {x.name}"
        for x in c.container.list(all=True, filters=[("label", f"{compose.PROJECT_LABEL}={project}")])
    ]
    return found


def variant(tmp_path, edit) -> str:
    d = tmp_path / EXERCISE
    shutil.copytree(REPO / "solutions" / EXERCISE, d, ignore=shutil.ignore_patterns("fixture.json"))
    text = (d / "compose.yaml").read_text()
    new = edit(text)
    assert new != text
    (d / "compose.yaml").write_text(new)
    return d


@pytest.fixture(scope="module")
def graded(engine_client):
    """The solution and the starter graded at the same time, as two students' CI jobs would be."""
    fx = fixture_mod.load(EXERCISE)
    with ThreadPoolExecutor(2) as pool:
        sol = pool.submit(grade, REPO / "solutions" / EXERCISE, EXERCISE, fixture=fx)
        starter = pool.submit(grade, REPO / "exercises" / EXERCISE, EXERCISE, fixture=fx)
        return sol.result(), starter.result()


@pytest.mark.answers
def test_the_solution_passes_and_the_starter_fails_in_parallel_runs(graded):
    sol, starter = graded
    assert sol.passed, sol.table()
    assert sol.run_id != starter.run_id
    by = {r.check: r for r in starter.results}
    assert not starter.passed and by["builds"].status == "passed", starter.table()
    up = by["compose_up_predicts"]
    # A race decides which the starter hits first: the API finding no model, or compose seeing prep stop.
    assert up.status == "failed" and ("no model" in up.detail or "prep-1 exited (0)" in up.detail), up.detail
    assert "service_completed_successfully" in by["compose_up_predicts"].hint
    assert by["compose_ports_loopback"].status == "failed" and "every interface" in by["compose_ports_loopback"].detail
    assert "Traceback" not in sol.table() + starter.table()


@pytest.mark.answers
def test_nothing_of_either_project_is_left(graded):
    for r in graded:
        assert leftovers(r.run_id) == [], r.run_id


@pytest.mark.answers
def test_the_fixture_holds_what_the_solution_answered():
    fx = fixture_mod.load(EXERCISE)
    answered = fx.section(Answered)
    assert (
        answered
        and '"y"' in answered.body
        and fx.solution_digest == fixture_mod.digest(REPO / "solutions" / EXERCISE, f"{EXERCISE}.py")
    )


@pytest.mark.answers
def test_a_compose_file_that_does_not_parse_fails_with_a_reason(engine_client, tmp_path):
    r = grade(variant(tmp_path, lambda t: t.replace("  api:\n", "  api:\n   oops: [\n", 1)), EXERCISE)
    up = {x.check: x for x in r.results}["compose_up_predicts"]
    assert up.status == "failed" and "not a valid compose file" in up.detail, r.table()
    assert "Traceback" not in r.table() and leftovers(r.run_id) == []


@pytest.mark.answers
def test_a_missing_service_fails_with_its_name(engine_client, tmp_path):
    r = grade(variant(tmp_path, lambda t: t.replace("train: {condition", "trainer: {condition")), EXERCISE)
    up = {x.check: x for x in r.results}["compose_up_predicts"]
    assert up.status == "failed" and "trainer" in up.detail and "depends_on" in up.hint, r.table()


SHORT_WAIT = """
exercises:
  - id: 08-compose
    module: "02"
    title: a short wait
    paths: [compose.yaml, Dockerfile, prep.py, train.py, serve.py, health.py]
    checks:
      - check: builds
      - check: compose_up_predicts
        wait_s: 8
      - check: compose_persists
        wait_s: 8
"""


@pytest.mark.answers
def test_a_stack_that_never_gets_healthy_fails_within_its_limit(engine_client, tmp_path):
    folder = variant(tmp_path, lambda t: t.replace('test: ["CMD", "python", "health.py"]', 'test: ["CMD", "false"]'))
    start = time.monotonic()
    r = grade(folder, EXERCISE, course_file=course_file(tmp_path, SHORT_WAIT), fixture=fixture_mod.load(EXERCISE))
    took = time.monotonic() - start
    by = {x.check: x for x in r.results}
    up = by["compose_up_predicts"]
    assert up.status == "failed" and "limit 8 s" in up.detail and "healthy in time" in up.hint, r.table()
    # compose_persists reuses the failed start instead of waiting again.
    assert by["compose_persists"].status == "failed" and took < 8 + 30, took
    assert leftovers(r.run_id) == []


@pytest.mark.answers
def test_a_grading_run_that_breaks_half_way_leaves_nothing(engine_client, monkeypatch):
    seen = {}

    def breaks(ctx, spec):
        cr = compose_up(ctx, spec)  # the stack is up
        seen["run"] = cr.subject.session.run_id
        raise RuntimeError("the grader itself failed half-way")

    monkeypatch.setitem(checks.REGISTRY, "compose_persists", breaks)
    with pytest.raises(RuntimeError, match="half-way"):
        grade(REPO / "solutions" / EXERCISE, EXERCISE)
    assert seen["run"] and leftovers(seen["run"]) == []


@pytest.mark.answers
def test_a_model_in_an_anonymous_volume_is_retrained_after_down_and_nothing_is_left(
    engine_client, tmp_path, monkeypatch
):
    # The model moves from the named volume to an anonymous one that the API borrows with volumes_from:
    # it serves, but `down` orphans that volume and the next `up` trains again.
    def anonymous(t):
        t = t.replace("volumes: [data:/data:ro, models:/models]", "volumes: [data:/data:ro, /models]")
        return t.replace("volumes: [models:/models:ro]", 'volumes_from: ["train:ro"]')

    orphans: list[str] = []
    find = compose.anonymous_volumes
    monkeypatch.setattr(compose, "anonymous_volumes", lambda name: orphans.extend(find(name)) or find(name))
    r = grade(variant(tmp_path, anonymous), EXERCISE)
    by = {x.check: x for x in r.results}
    assert by["compose_up_predicts"].status == "passed", r.table()
    persists = by["compose_persists"]
    assert persists.status == "failed" and "train ran again" in persists.detail and "named volume" in persists.hint, (
        r.table()
    )
    assert orphans and leftovers(r.run_id) == []
    assert not [v for v in orphans if engine.client().volume.exists(v)], "an orphaned anonymous volume was left"


def _without_the_owner_fix(t: str) -> str:
    start, end = t.index("  models-owner:\n"), t.index("  prep:\n")
    t = t[:start] + t[end:]
    return t.replace("      models-owner: {condition: service_completed_successfully}\n", "")


@pytest.mark.answers
def test_a_volume_left_by_root_fails_the_non_root_writer_with_the_cause(engine_client, tmp_path):
    """The step the lesson did not show: a volume that already holds files copies nothing from the image."""
    r = grade(variant(tmp_path, _without_the_owner_fix), EXERCISE)
    up = {x.check: x for x in r.results}["compose_up_predicts"]
    assert up.status == "failed" and "permission denied" in up.detail.lower(), r.table()
    assert "created empty" in up.hint and "chown" in up.hint
    assert leftovers(r.run_id) == []


@pytest.mark.answers
def test_training_as_root_passes_the_stack_but_not_the_non_root_check(engine_client, tmp_path):
    def as_root(t: str) -> str:
        t = _without_the_owner_fix(t)
        return t.replace(
            '    command: ["python", "train.py"]\n', '    command: ["python", "train.py"]\n    user: "0"\n'
        )

    r = grade(variant(tmp_path, as_root), EXERCISE)
    by = {x.check: x for x in r.results}
    assert by["compose_up_predicts"].status == "passed", r.table()
    assert by["compose_non_root"].status == "failed" and "train runs as 0" in by["compose_non_root"].detail


@pytest.mark.answers
def test_renaming_the_volume_does_not_dodge_the_state_left_on_the_servers(engine_client, tmp_path):
    r = grade(variant(tmp_path, lambda t: _without_the_owner_fix(t).replace("models:", "model-store:")), EXERCISE)
    up = {x.check: x for x in r.results}["compose_up_predicts"]
    assert up.status == "failed" and "permission denied" in up.detail.lower(), r.table()
