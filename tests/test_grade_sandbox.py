"""The sandbox (issue 27, section 1): a submission reads nothing of the grading machine but its own folder.

On a machine that grades a class, the autograder bundle, the other submissions and the solutions sit
beside the one being graded. Unit tier: what the grader refuses before anything runs (a COPY out of the
folder, an absolute path, a link out of it or to nowhere; a compose file that mounts, includes or shares
the host's). Engine tier: a build that looks for them with RUN finds nothing, and the build context itself
(the grader's copy of the folder) holds nothing else, even where the refusal above were missing."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest

from layerlab.grade import bundle, confinement
from layerlab.grade import fixture as fixture_mod
from layerlab.grade.confinement import ComposeProblem
from layerlab.grade.runner import grade
from test_grade_static import MODULES

BOX = """
exercises:
  - id: t-box
    module: "02"
    title: Box
    paths: [Dockerfile, own.txt]
    limits: {build_timeout_s: 240, run_timeout_s: 30}
    checks:
      - check: builds
"""


class Machine:
    """A grading machine with secrets beside the submission: an instructor's repository (its course.yml
    and solutions), the autograder bundle made from it, Bob's submission, and Alice's repository (with a
    solutions/ folder of its own), whose exercise folder is graded. Each secret holds `token`-secret."""

    def __init__(self, root: Path):
        self.token = "cnry" + uuid.uuid4().hex[:12]
        secret = f"{self.token}-secret\n"
        self.instructor = root / "instructor"
        (self.instructor / "notebooks").mkdir(parents=True)
        (self.instructor / "notebooks" / "02-x.py").write_text("# %%\n")
        self.course_file = self.instructor / "course.yml"
        self.course_file.write_text(MODULES + BOX + f"# {secret}")
        sol = self.instructor / "solutions" / "t-box"
        sol.mkdir(parents=True)
        (sol / "Dockerfile").write_text(f"FROM python:3.13-slim\n# {secret}COPY own.txt /\n")
        (sol / "own.txt").write_text(secret)
        fx = fixture_mod.load("02-slim").model_copy(update={"exercise": "t-box"})
        fx.solution_digest = fixture_mod.digest(sol, "t-box.py")
        (sol / "fixture.json").write_text(fx.model_dump_json())
        self.bob = root / "class" / "bob" / "t-box"
        self.bob.mkdir(parents=True)
        (self.bob / "secret.txt").write_text(secret)
        repo = root / "class" / "alice"
        (repo / ".git").mkdir(parents=True)
        (repo / "solutions" / "t-box").mkdir(parents=True)
        (repo / "solutions" / "t-box" / "answer.txt").write_text(secret)
        self.alice = repo / "exercises" / "t-box"
        self.alice.mkdir(parents=True)
        (self.alice / "own.txt").write_text(f"{self.token}-control\n")
        self.secrets = [self.bob / "secret.txt", repo / "solutions" / "t-box" / "answer.txt", sol / "own.txt"]

    def hand_in(self, dockerfile: str) -> Path:
        (self.alice / "Dockerfile").write_text(dockerfile)
        return self.alice


@pytest.fixture
def machine(tmp_path) -> Machine:
    return Machine(tmp_path)


# --- refused before anything runs (no engine) ---------------------------------------------------------


def _refused(m: Machine, dockerfile: str, why: str) -> None:
    r = grade(m.hand_in(dockerfile), "t-box", course_file=m.course_file)
    assert r.problems and why in r.problems[0], r.problems
    assert [x.status for x in r.results] == ["not run"]
    assert m.token not in r.to_json()


@pytest.mark.answers
def test_a_copy_out_of_the_folder_is_refused(machine):
    up = os.path.relpath(machine.secrets[0], machine.alice)  # ../../../bob/t-box/secret.txt
    _refused(machine, f"FROM python:3.13-slim\nCOPY {up} /x\n", "reaches outside the exercise folder")


@pytest.mark.answers
def test_an_absolute_path_is_refused(machine):
    _refused(machine, f"FROM python:3.13-slim\nADD {machine.secrets[1]} /x\n", "reaches outside the exercise folder")


@pytest.mark.answers
def test_a_link_out_of_the_folder_is_refused(machine):
    (machine.alice / "leak.txt").symlink_to(machine.secrets[2])
    _refused(machine, "FROM python:3.13-slim\nCOPY leak.txt /x\n", "a path outside the exercise folder")


@pytest.mark.answers
def test_a_linked_folder_out_of_the_folder_is_refused(machine):
    (machine.alice / "class").symlink_to(machine.bob.parent.parent, target_is_directory=True)
    _refused(machine, "FROM python:3.13-slim\nCOPY class/bob/t-box/secret.txt /x\n", "links to")


@pytest.mark.parametrize("kind", ["loop", "dangling"])
@pytest.mark.answers
def test_a_link_to_nowhere_is_one_problem_not_a_traceback(machine, kind):
    if kind == "loop":
        (machine.alice / "a").symlink_to(machine.alice / "b")
        (machine.alice / "b").symlink_to(machine.alice / "a")
    else:
        (machine.alice / "a").symlink_to(machine.alice / "gone")
    _refused(machine, "FROM python:3.13-slim\nCOPY own.txt /x\n", "a is a link that leads nowhere")


# --- compose: what a stack may reach (the normalised form is what `docker compose config` prints) ---------


def _service(**keys) -> dict:
    return {"services": {"api": {"image": "x", **keys}}}


def _bind(source: str) -> dict:
    return {"type": "bind", "source": source, "target": "/m", "bind": {"create_host_path": True}}


@pytest.mark.parametrize(
    ("cfg", "said"),
    [
        (lambda d: _service(volumes=[_bind("/")]), "bind-mounts /, outside the exercise folder"),
        (lambda d: _service(volumes=[_bind(f"{d}/../bob")]), "outside the exercise folder"),
        (lambda d: _service(privileged=True), "asks for `privileged`"),
        (lambda d: _service(cap_add=["SYS_ADMIN"]), "asks for `cap_add`"),
        (lambda d: _service(devices=["/dev/sda:/dev/sda"]), "asks for `devices`"),
        (lambda d: _service(network_mode="host"), "network_mode: host"),
        (lambda d: _service(pid="host"), "pid: host"),
        (lambda d: _service(network_mode="container:layerlab-grade-bob"), "network_mode: container:"),
        (lambda d: _service(volumes_from=["container:bob"]), "takes the volumes of container:bob"),
        (lambda d: _service(volumes=[{"type": "npipe", "source": "x", "target": "/x"}]), "mounts a npipe"),
        (lambda d: {"volumes": {"v": {"driver_opts": {"o": "bind", "device": "/"}}}}, "volume v sets a driver"),
        (lambda d: {"networks": {"n": {"driver": "host"}}}, "network n uses the host driver"),
        (lambda d: {"secrets": {"s": {"file": "/etc/passwd"}}}, "secret s is the file /etc/passwd"),
        (lambda d: {"configs": {"c": {"environment": "GITHUB_TOKEN"}}}, "config c reads this machine's environment"),
    ],
)
def test_a_stack_that_reaches_out_of_the_folder_is_refused(tmp_path, cfg, said):
    with pytest.raises(ComposeProblem) as e:
        confinement.check_config(cfg(tmp_path), tmp_path, "compose.yaml")
    assert said in e.value.detail and e.value.hint == confinement.STAY


def test_a_stack_of_named_volumes_and_binds_inside_the_folder_runs(tmp_path):
    (tmp_path / "data").mkdir()
    cfg = _service(
        volumes=[_bind(str(tmp_path / "data")), {"type": "volume", "source": "models", "target": "/models"}],
        volumes_from=["train"],
        network_mode="service:train",
    )
    cfg.update(volumes={"models": {"labels": {"a": "b"}}}, secrets={"s": {"file": str(tmp_path / "data" / "s")}})
    confinement.check_config(cfg, tmp_path, "compose.yaml")  # no ComposeProblem


def test_a_bind_through_a_link_inside_the_folder_is_judged_where_it_leads(tmp_path):
    (tmp_path / "ex").mkdir()
    (tmp_path / "ex" / "data").symlink_to(tmp_path, target_is_directory=True)
    with pytest.raises(ComposeProblem):
        confinement.check_config(_service(volumes=[_bind(str(tmp_path / "ex" / "data"))]), tmp_path / "ex", "c")


@pytest.mark.parametrize(
    ("written", "said"),
    [
        ({"include": ["../../bob/t-box/compose.yaml"]}, "includes other compose files"),
        (_service(extends={"file": "../bob/compose.yaml", "service": "api"}), "extends ../bob/compose.yaml"),
        (_service(env_file="/etc/environment"), "reads env_file /etc/environment"),
        (_service(env_file=[{"path": "~/.env"}]), "reads env_file ~/.env"),
        (_service(env_file=["${HOME}/.env"]), "reads env_file ${HOME}/.env"),
    ],
)
def test_a_file_that_makes_compose_read_another_is_refused_before_compose_reads_it(tmp_path, written, said):
    with pytest.raises(ComposeProblem) as e:
        confinement.check_written(written, tmp_path, "compose.yaml")
    assert said in e.value.detail


def test_extends_and_env_files_inside_the_folder_are_read(tmp_path):
    confinement.check_written(
        _service(extends={"file": "base.yaml", "service": "api"}, env_file=["api.env", {"path": "more.env"}]),
        tmp_path,
        "compose.yaml",
    )


# --- engine: what a build can see -----------------------------------------------------------------------

PROBE = """FROM python:3.13-slim
COPY own.txt /probe/own.txt
# The token in two halves: this file never holds it whole, so finding it means reading a secret.
RUN --mount=type=bind,target=/ctx --mount=type=bind,source=../..,target=/up \\
    a={a}; b={b}; \\
    grep -q "$a$b-control" /probe/own.txt && grep -q "$a$b-control" /ctx/own.txt && grep -q "$a$b-control" /up/own.txt \\
    || {{ echo "the probe cannot read its own files"; exit 3; }}; \\
    for p in {paths}; do if [ -e "$p" ]; then echo "LEAK: $p"; exit 1; fi; done; \\
    if grep -rsl --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev "$a$b-secret" /; then echo LEAK; exit 1; fi
"""


@pytest.mark.answers
def test_a_build_that_looks_for_the_machines_secrets_finds_none(engine_client, machine, tmp_path):
    written = bundle.write(tmp_path / "autograder.tar.gz", course_file=machine.course_file)
    with bundle.open_bundle(f"{written.path}@{written.digest}") as b:
        paths = [
            b.course_file,
            written.path,
            machine.bob,
            machine.instructor / "solutions",
            *machine.secrets,
            machine.alice,  # the original, as opposed to the grader's copy the build sees
        ]
        dockerfile = PROBE.format(a=machine.token[:4], b=machine.token[4:], paths=" ".join(str(p) for p in paths))
        assert machine.token not in dockerfile
        r = bundle.grade_with(b, machine.hand_in(dockerfile), "t-box")
        # The probe's own check: handed a secret in its folder, it finds it.
        (machine.alice / "own.txt").write_text(f"{machine.token}-control\n{machine.token}-secret\n")
        control = bundle.grade_with(b, machine.alice, "t-box")
    (built,) = r.results
    assert built.status == "passed", r.table()  # the probe ran, read its own files and found no secret
    assert machine.token not in r.to_json()
    (found,) = control.results
    assert found.status == "failed" and "LEAK" in found.detail, control.table()


@pytest.mark.parametrize("source", ["../../../bob/t-box/secret.txt", "{abs}", "file://{abs}"])
@pytest.mark.answers
def test_the_build_context_is_the_graders_copy_and_holds_nothing_else(engine_client, machine, tmp_path, source):
    """What the refusals above stop never reaches the build either: it builds the grader's copy of the folder."""
    from layerlab.engine.build import BuildError
    from layerlab.grade.sandbox import Session
    from layerlab.grade.submission import copy

    work = tmp_path / "work" / "t-box"
    copy(machine.hand_in("FROM python:3.13-slim\n"), work)
    src = source.format(abs=machine.secrets[0])
    (work / "Dockerfile").write_text(f"FROM python:3.13-slim\nADD {src} /x\nRUN cat /x\n")
    with Session("t-box", "02", memory="256m", pids=64, max_output=2000) as session:
        with pytest.raises(BuildError) as e:
            session.build(work, "escape", dockerfile=work / "Dockerfile", timeout=120)
    assert "not found" in str(e.value) or "no such file" in str(e.value).lower(), str(e.value)
    assert machine.token not in str(e.value)


def _subject(folder: Path) -> SimpleNamespace:
    """What ComposeRun reads of a graded subject before anything is built: its folder and names."""
    return SimpleNamespace(context=folder, exercise=SimpleNamespace(id="t-box"), session=SimpleNamespace(run_id="r"))


@pytest.mark.parametrize(
    "attack",
    [
        "    volumes: ['{secret_dir}:/leak:ro']\n",
        "    volumes: ['../../../bob/t-box:/leak:ro']\n",
        "    env_file: ['{secret}']\n",
        "    network_mode: host\n",
    ],
)
@pytest.mark.answers
def test_compose_itself_reads_an_attacking_file_as_the_checks_expect(engine_client, machine, attack):
    """The real `compose config` on a file that reaches out: refused, in the form compose prints it."""
    from layerlab.grade.composed import ComposeRun

    folder = machine.alice
    text = "services:\n  api:\n    image: python:3.13-slim\n" + attack.format(
        secret_dir=machine.bob, secret=machine.secrets[0]
    )
    (folder / "compose.yaml").write_text(text)
    with pytest.raises(ComposeProblem) as e:
        ComposeRun(_subject(folder), "compose.yaml").config()
    assert e.value.hint == confinement.STAY and machine.token not in e.value.detail


@pytest.mark.answers
def test_compose_reads_the_courses_own_compose_files_as_confined(engine_client, tmp_path):
    """The 08 solution and starter, as compose reads them, stay inside their folders."""
    from layerlab.course import REPO
    from layerlab.grade.composed import ComposeRun

    for kind in ("solutions", "exercises"):
        folder = REPO / kind / "08-compose"
        subject = SimpleNamespace(
            context=folder, exercise=SimpleNamespace(id="08"), session=SimpleNamespace(run_id="r")
        )
        assert ComposeRun(subject, "compose.yaml").config()["services"]["api"]
