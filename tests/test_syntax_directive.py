"""`# syntax=` offline: the rewrite on its own, then builds through build.build and the grader's Session."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from pathlib import Path

import pytest

from layerlab import engine
from layerlab.engine import build, containers
from layerlab.engine.dockerfile_syntax import split_directives, without_syntax, write_copy
from layerlab.grade.sandbox import Session

# --- the rewrite, no engine -------------------------------------------------


def test_syntax_goes_after_the_other_directives_as_a_comment():
    text = "# syntax=docker/dockerfile:1\n# check=skip=all\nFROM scratch\n"
    new, value = without_syntax(text)
    assert value == "docker/dockerfile:1"
    lines = new.splitlines()
    assert lines[0] == "# check=skip=all"
    assert lines[1].startswith("#") and "docker/dockerfile:1" in lines[1]
    assert lines[2] == "FROM scratch"
    _, directives, _ = split_directives(new)
    assert [d[0] for d in directives] == ["check"]


def test_escape_stays_a_directive_and_every_instruction_keeps_its_line():
    text = "# escape=`\n# syntax=docker/dockerfile:1.7\n\nFROM debian:trixie-slim\nRUN echo a `\n    b\n"
    new, value = without_syntax(text)
    assert value == "docker/dockerfile:1.7"
    _, directives, _ = split_directives(new)
    assert [(k, v) for k, v, _ in directives] == [("escape", "`")]
    old_lines, new_lines = text.split("\n"), new.split("\n")
    assert len(old_lines) == len(new_lines)
    assert old_lines[2:] == new_lines[2:]


def test_keys_are_case_insensitive_and_spaces_around_them_are_allowed():
    new, value = without_syntax("#  SYNTAX = docker/dockerfile:1 \nFROM scratch\n")
    assert value == "docker/dockerfile:1"
    assert split_directives(new)[1] == [] and new.splitlines()[1] == "FROM scratch"
    assert without_syntax("#Syntax=x\nFROM scratch\n")[1] == "x"


def test_without_a_directive_the_text_is_unchanged():
    for text in ("FROM scratch\n", "", "# just a comment\n# syntax=x\nFROM scratch\n", "\n# syntax=x\nFROM scratch\n"):
        assert without_syntax(text) == (text, None)


def test_a_syntax_comment_after_an_instruction_is_not_a_directive():
    text = "FROM scratch\n# syntax=docker/dockerfile:1\n"
    assert without_syntax(text) == (text, None)
    assert split_directives(text)[1] == []


def test_an_unknown_directive_ends_the_directives_as_buildkit_does():
    text = "# foo=bar\n# syntax=docker/dockerfile:1\nFROM scratch\n"
    assert without_syntax(text) == (text, None)


def test_line_count_and_endings_are_kept():
    for text in (
        "# syntax=x\n# escape=`",  # the last directive has no line ending
        "# syntax=x\r\n# escape=`\r\nFROM scratch\r\n",
        "#!/usr/bin/env buildctl\n# syntax=x\nFROM scratch\n",  # BuildKit skips a shebang line for `syntax`
    ):
        new, value = without_syntax(text)
        assert value == "x"
        assert new.count("\n") == text.count("\n") and new.count("\r") == text.count("\r")
        assert new.endswith("\n") == text.endswith("\n")


def test_copy_takes_its_named_dockerignore_along(tmp_path):
    src, dest = tmp_path / "src", tmp_path / "dest"
    src.mkdir(), dest.mkdir()
    (src / "app.Dockerfile").write_text("# syntax=x\nFROM scratch\n")
    (src / "app.Dockerfile.dockerignore").write_text("secret.txt\n")
    out = write_copy(src / "app.Dockerfile", "new\n", dest)
    assert out == dest / "app.Dockerfile" and out.read_text() == "new\n"
    assert (dest / "app.Dockerfile.dockerignore").read_text() == "secret.txt\n"


def test_offline_build_uses_a_copy_outside_the_context_and_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(engine, "engine_command", lambda: "docker")
    monkeypatch.setattr(build, "_offline", lambda: True)
    monkeypatch.setattr(build, "_buildkit_version", lambda: None)
    (tmp_path / "Dockerfile").write_text("# syntax=docker/dockerfile:1\nFROM scratch\n")
    shown: list[str] = []
    file, tmp = build._offline_dockerfile(tmp_path, None, shown.append)
    try:
        assert tmp and Path(file).parent == Path(tmp) and tmp_path not in Path(tmp).parents
        assert Path(file).read_text().splitlines()[1] == "FROM scratch"
        assert shown == [
            "offline: `# syntax=docker/dockerfile:1` ignored; using the engine's built-in Dockerfile frontend (version unknown)"
        ]
    finally:
        if tmp:
            shutil.rmtree(tmp)
    monkeypatch.setattr(build, "_offline", lambda: False)
    assert build._offline_dockerfile(tmp_path, None, shown.append) == (None, None)


# --- builds through the engine ------------------------------------------------

DOCKERFILE = """\
# syntax=docker/dockerfile:1
# check=skip=all
FROM debian:trixie-slim
RUN <<EOF
echo "heredoc ran" > /heredoc.txt
EOF
RUN --mount=type=cache,target=/root/.cache/pip sh -c 'echo cached > /root/.cache/pip/probe && cp /root/.cache/pip/probe /mount.txt'
COPY . /ctx
CMD ["sh", "-c", "cat /heredoc.txt /mount.txt; ls /ctx"]
"""


@pytest.fixture(scope="module")
def offline() -> bool:
    return not engine.registry_reachable()


@pytest.fixture
def context(tmp_path) -> Path:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "app.Dockerfile").write_text(DOCKERFILE)
    (ctx / "app.Dockerfile.dockerignore").write_text("secret.txt\n")
    (ctx / "secret.txt").write_text("not for the image\n")
    (ctx / "kept.txt").write_text("kept\n")
    return ctx


def _leftovers() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("layerlab-dockerfile-*")}


def test_heredoc_and_cache_mount_build_with_a_syntax_directive(engine_client, context, offline):
    tag = f"layerlab-test-syntax:{uuid.uuid4().hex[:8]}"
    shown: list[str] = []
    before = _leftovers()
    try:
        result = build.build(context, tag, dockerfile=context / "app.Dockerfile", show=shown.append)
        assert result.image_id
        ran = containers.run_live(tag, timeout=60)
        assert ran.exit_code == 0, ran.output
        assert "heredoc ran" in ran.output and "cached" in ran.output
        # The named .dockerignore beside the Dockerfile still applies to the copy.
        assert "kept.txt" in ran.output and "secret.txt" not in ran.output
    finally:
        engine_client.image.remove(tag, force=True)
    notes = [line for line in shown if line.startswith("offline: `# syntax=docker/dockerfile:1` ignored")]
    assert len(notes) == (1 if offline else 0), shown
    assert _leftovers() <= before


def test_a_failing_build_with_a_syntax_directive_leaves_no_temporary_copy(engine_client, tmp_path):
    (tmp_path / "Dockerfile").write_text("# syntax=docker/dockerfile:1\nFROM debian:trixie-slim\nRUN false\n")
    tag = f"layerlab-test-syntax-fail:{uuid.uuid4().hex[:8]}"
    before = _leftovers()
    try:
        with pytest.raises(build.BuildError) as failed:
            build.build(tmp_path, tag, show=None)
        # It got as far as the RUN step: the frontend was not the problem.
        assert failed.value.step and "false" in failed.value.step
    finally:
        if engine_client.image.exists(tag):
            engine_client.image.remove(tag, force=True)
    assert _leftovers() <= before


def test_the_grader_builds_a_syntax_directive_too(engine_client, context, capsys):
    with Session("test-syntax", None, memory="256m", pids=64, max_output=4000) as session:
        result = session.build(context, "main", dockerfile=context / "app.Dockerfile", timeout=300)
        assert result.image_id
        ran = session.run(session.tags[-1], timeout=60)
        assert ran.exit_code == 0, ran.output or ran.error
        assert "heredoc ran" in ran.output
    assert "offline:" not in capsys.readouterr().out  # show=None: the grader prints nothing
    assert not engine_client.image.exists(session.tags[-1])
