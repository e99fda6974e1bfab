"""A container the engine will not start is reported with the engine's reason and a hint,
not with `Error: failed to start containers: <id>` (issue 14)."""

from __future__ import annotations

import re
import shutil

import pytest

from layerlab.course import REPO
from layerlab.engine import build, containers, labels
from layerlab.engine.containers import ContainerDidNotStart, start_failure

# Real stderr of `docker start <id>` (Docker 26.1.5, containerd 1.7.24, runc 1.1.5), captured once.
GHOST = (
    "Error response from daemon: unable to find user ghost: no matching entries in passwd file\n"
    "Error: failed to start containers: d5f97558cfdaa6310d85695a066752a60caec018859ed118f71100bf6b9acaad\n"
)
TINI = (
    "Error response from daemon: failed to create task for container: failed to create shim task: "
    "OCI runtime create failed: runc create failed: unable to start container process: "
    'exec: "tini": executable file not found in $PATH: unknown\n'
    "Error: failed to start containers: 6526988e28e7fc5b25c76224a86eef81a64c0790a79cf9f40f68a450c38dac47\n"
)
# `docker start -a` prints no last line.
NOT_EXECUTABLE = (
    "Error response from daemon: failed to create task for container: failed to create shim task: "
    "OCI runtime create failed: runc create failed: unable to start container process: "
    'exec: "/run.sh": permission denied: unknown\n'
)
NO_SUCH_PATH = (
    "Error response from daemon: failed to create task for container: failed to create shim task: "
    "OCI runtime create failed: runc create failed: unable to start container process: "
    'exec: "/nope/run.sh": stat /nope/run.sh: no such file or directory: unknown\n'
)
# A script with CRLF line endings starts, and its only log line is runc's:
CRLF_LOG = "exec /crlf.sh: no such file or directory\n"


def _no_id(text: str) -> bool:
    return not re.search(r"[0-9a-f]{64}", text)


# --- start_failure, on the engine's own words -----------------------------------


def test_an_unknown_user_gives_the_daemons_reason_and_a_user_hint():
    reason, hint = start_failure(GHOST)
    assert reason == "unable to find user ghost: no matching entries in passwd file"
    assert "ghost" in hint and "useradd" in hint and "numeric UID" in hint


def test_a_missing_program_is_stripped_to_the_runtimes_words():
    reason, hint = start_failure(TINI)
    assert reason == 'exec: "tini": executable file not found in $PATH'
    assert "ENTRYPOINT" in hint and "not in the image" in hint
    assert _no_id(reason)


def test_permission_denied_and_a_wrong_path_have_their_own_hints():
    reason, hint = start_failure(NOT_EXECUTABLE)
    assert reason == 'exec: "/run.sh": permission denied' and "chmod +x" in hint
    reason, hint = start_failure(NO_SUCH_PATH)
    assert reason == 'exec: "/nope/run.sh": stat /nope/run.sh: no such file or directory'
    assert "path" in hint and "CRLF" in hint
    assert "CRLF" in start_failure(CRLF_LOG)[1]


def test_other_architectures_and_unknown_causes():
    reason, hint = start_failure(
        "Error response from daemon: failed to create task for container: "
        "exec /usr/bin/uname: exec format error: unknown\n"
        "Error: failed to start containers: abc123abc123\n"
    )
    assert reason == "exec /usr/bin/uname: exec format error" and "--platform" in hint
    reason, hint = start_failure(
        "Error response from daemon: something new went wrong\nError: failed to start containers: abc123abc123"
    )
    assert reason == "something new went wrong" and hint
    # No daemon line: the last line that says more than an id.
    assert start_failure("Error: crun: executable file `tini` not found in $PATH: No such file or directory\n")[
        0
    ].startswith("executable file `tini`")
    assert start_failure("Error: failed to start containers: abc123abc123\n")[0].startswith("failed to start")
    assert start_failure("")[0]


def test_the_message_is_one_paragraph_with_the_hint():
    e = ContainerDidNotStart("img:1", *start_failure(GHOST))
    assert str(e).splitlines() == [
        "img:1 did not start: unable to find user ghost: no matching entries in passwd file",
        "hint: USER names a user (ghost) that the image does not have: create it in an earlier step "
        "(RUN useradd --create-home ghost) or use a numeric UID such as USER 1000",
    ]
    assert not isinstance(e, containers.engine.EngineUnavailable)  # replay never falls back on it


# --- against the engine -----------------------------------------------------------


BROKEN = {
    "ghost": 'FROM debian:trixie-slim\nUSER ghost\nCMD ["true"]\n',
    "tini": 'FROM debian:trixie-slim\nENTRYPOINT ["tini"]\n',
}


@pytest.fixture(scope="module")
def broken_images(engine_client, tmp_path_factory):
    tags = {}
    try:
        for name, dockerfile in BROKEN.items():
            d = tmp_path_factory.mktemp(name)
            (d / "Dockerfile").write_text(dockerfile)
            tags[name] = build.build(d, f"layerlab-test-start-{name}:latest", show=None).tag
        yield tags
    finally:
        for tag in tags.values():
            try:
                engine_client.image.remove(tag, force=True)
            except Exception:  # noqa: BLE001 - best effort
                pass


def _ours(client, tag):
    return client.container.list(all=True, filters=[*labels.managed_filter(), ("ancestor", tag)])


@pytest.mark.parametrize(
    "name, words",
    [
        ("ghost", ["unable to find user ghost"]),
        ("tini", ["tini", "executable file not found"]),
    ],
)
def test_run_live_raises_the_reason_and_leaves_no_container(engine_client, broken_images, name, words):
    tag = broken_images[name]
    assert _ours(engine_client, tag) == []
    with pytest.raises(ContainerDidNotStart) as caught:
        containers.run_live(tag, timeout=30, network="none")
    e = caught.value
    assert all(w in e.reason for w in words), e.reason
    assert _no_id(e.reason) and e.hint and e.image == tag
    assert str(e).startswith(f"{tag} did not start: ") and "\nhint: " in str(e)
    assert _ours(engine_client, tag) == []  # removed although it never ran
    # Lessons call the replayable wrapper: it must not hide the failure behind a recording.
    with pytest.raises(ContainerDidNotStart):
        containers.run(tag, timeout=30, network="none")
    assert _ours(engine_client, tag) == []


def test_the_sandbox_keeps_reason_and_hint(engine_client, broken_images):
    from layerlab.grade.sandbox import Session

    with Session("t-start", None, memory="256m", pids=64, max_output=2000) as s:
        ran = s.run(broken_images["tini"], timeout=30)
    assert ran.exit_code == -1
    assert ran.error == 'exec: "tini": executable file not found in $PATH'
    assert "ENTRYPOINT" in ran.hint


@pytest.mark.answers
def test_the_grader_says_why_the_container_did_not_start(engine_client, tmp_path):
    from layerlab.grade.runner import grade
    from test_grade_engine import _assert_left_nothing, by_check

    d = tmp_path / "02-slim"
    shutil.copytree(REPO / "solutions" / "02-slim", d)
    with open(d / "Dockerfile", "a") as fh:
        fh.write("USER ghost\n")
    r = grade(d, "02-slim")
    got = by_check(r)["runs_and_prints"]
    assert got.status == "failed", r.table()
    assert got.detail == "the container did not start: unable to find user ghost: no matching entries in passwd file"
    assert "user" in got.hint and "ghost" in got.hint and "useradd" in got.hint
    assert "failed to start containers" not in r.table()
    _assert_left_nothing(engine_client, r.run_id)


@pytest.mark.answers
def test_a_user_the_image_lacks_does_not_pass_as_non_root(engine_client, tmp_path):
    from layerlab.grade.runner import grade
    from test_grade_engine import by_check

    d = tmp_path / "04-multistage"
    shutil.copytree(REPO / "solutions" / "04-multistage", d)
    df = d / "Dockerfile"
    lines = df.read_text().splitlines()
    last_user = max(i for i, line in enumerate(lines) if line.startswith("USER "))
    lines[last_user] = "USER ghost"
    df.write_text("\n".join(lines) + "\n")
    got = by_check(grade(d, "04-multistage"))["runs_as_non_root"]
    assert got.status == "failed"
    assert "unable to find user ghost" in got.detail and "useradd" in got.hint
