"""Build progress from BuildKit's step events, on logs recorded from real builds (tests/data/buildlog-*.txt)."""

import io
import re
from pathlib import Path

import pytest

from layerlab.engine import build, buildlog, progress
from layerlab.ground.text import say

DATA = Path(__file__).parent / "data"
RAW = re.compile(r"^#\d+ ")


def feed(name, p=None, renderer=None):
    p = p or progress.Progress(tag="layerlab-demo:latest", log_path=Path("/tmp/logs/layerlab-demo_latest.log"))
    reader = buildlog.Reader()
    lines = []
    live = progress.Live(p, renderer or progress.Summary(lines.append), tick=60)
    with live:
        for line in (DATA / f"buildlog-{name}.txt").read_text().splitlines():
            live.line(line, reader.feed(line))
    return p, lines, reader.log()


@pytest.mark.parametrize(
    "name, total, ran, cached",
    [
        ("cold", 6, 4, 1),
        ("warm", 6, 0, 5),
        ("code-edit", 6, 2, 3),
        ("multiplatform", 12, 9, 2),
        # lesson 04's builder + runtime stages (5 + 5); BuildKit tags the runtime's FROM `[1/7]`
        ("multistage", 10, 8, 2),
    ],
)
def test_counts_match_the_parsed_log(name, total, ran, cached):
    p, lines, log = feed(name)
    assert (p.total, p.done, p.ran, p.cached) == (total, total, ran, cached)
    # The live counts agree with the whole-log parse the results are built from.
    assert p.ran == len(log.ran()) and p.cached == len(log.cached())
    assert p.outcome == "built" and p.current is None


def test_the_summary_line_names_image_seconds_steps_and_log():
    p, lines, _ = feed("code-edit")
    assert lines == [p.summary()]
    assert re.fullmatch(
        r"built layerlab-demo:latest in \d+\.\d s: 6 steps, 2 ran, 3 cached; full log: /tmp/logs/layerlab-demo_latest\.log",
        lines[0],
    ), lines[0]


def test_a_label_and_several_platforms_are_named():
    p = progress.Progress(tag="t:1", label="code edit", platforms=["linux/amd64", "linux/arm64"])
    feed("multiplatform", p)
    assert p.summary().startswith("built t:1 (code edit) for linux/amd64, linux/arm64 in ")


def test_the_live_line_follows_the_steps_as_they_start_and_end():
    p = progress.Progress(tag="layerlab-demo:latest")
    reader = buildlog.Reader()
    seen = []
    for line in (DATA / "buildlog-cold.txt").read_text().splitlines():
        if p.event(reader.feed(line)):
            seen.append(p.line(200))
    assert seen[0].startswith("building layerlab-demo:latest: 0/6 steps | [1/6] FROM")
    running = next(s for s in seen if 'RUN echo "installing' in s)
    assert running.startswith("building layerlab-demo:latest: 3/6 steps | [4/6] RUN") and "1 cached, 1 ran" in running
    assert seen[-1].startswith("building layerlab-demo:latest: 6/6 steps | exporting |")
    assert all(not RAW.match(s) for s in seen)


def test_a_failed_build_names_the_failing_step():
    p, lines, _ = feed("error")
    # The renderer saw the exception the build raises: here, mark it failed by hand.
    p2 = progress.Progress(tag="bad:1")
    reader = buildlog.Reader()
    for line in (DATA / "buildlog-error.txt").read_text().splitlines():
        p2.event(reader.feed(line))
    p2.end("failed")
    assert p2.failed is not None and p2.done == 1
    assert re.fullmatch(
        r"FAILED bad:1 after \d+\.\d s at \[2/2\] RUN echo step-output && exit 7 \(1/2 steps done\)", p2.summary()
    ), p2.summary()


def test_the_terminal_renderer_prints_only_the_summary_when_not_a_tty():
    out = io.StringIO()  # isatty() is False
    term = progress.Terminal(out)
    assert term.live is False
    p, _, _ = feed("cold", renderer=term)
    assert out.getvalue() == p.summary() + "\n"


def test_the_terminal_renderer_rewrites_one_line_on_a_tty():
    out = io.StringIO()
    p, _, _ = feed("cold", renderer=progress.Terminal(out, live=True, min_interval=0))
    text = out.getvalue()
    assert text.endswith(p.summary() + "\n")
    assert text.count("\n") == 1  # one line, redrawn with \r; the summary ends it
    assert "\rbuilding layerlab-demo:latest: 3/6 steps | [4/6] RUN" in text


def test_show_log_asks_for_every_raw_line():
    lines = []
    p, _, _ = feed("warm", renderer=progress.RawLog(lines.append))
    assert lines[:-1] == (DATA / "buildlog-warm.txt").read_text().splitlines()
    assert lines[-1] == p.summary()


def test_show_values_pick_renderers(monkeypatch):
    monkeypatch.setenv(progress.HEADLESS_ENV, "1")
    assert isinstance(build._renderer(say), progress.Summary)
    assert build._renderer(None) is None
    assert isinstance(build._renderer("log"), progress.RawLog)
    got = []
    r = build._renderer(got.append)
    assert type(r) is progress.Summary and r.printer == got.append
    term = progress.Terminal(io.StringIO())
    assert build._renderer(term) is term
    with pytest.raises(ValueError):
        build._renderer("loud")
    monkeypatch.delenv(progress.HEADLESS_ENV)
    monkeypatch.delenv("CI", raising=False)
    assert isinstance(build._renderer(say), progress.Terminal)  # not in a kernel here


def test_logs_go_to_a_fresh_file_per_build_and_old_ones_are_pruned(monkeypatch, tmp_path):
    monkeypatch.setenv(progress.LOG_DIR_ENV, str(tmp_path))
    paths = []
    for _ in range(progress.KEEP_LOGS + 3):
        path = progress.new_log_path("layerlab-03-naive:latest")
        path.write_text("x")
        paths.append(path)
    assert paths[-1].name.startswith("layerlab-03-naive_latest-")
    assert len(set(paths)) == len(paths)
    assert sorted(tmp_path.iterdir()) == sorted(paths[-progress.KEEP_LOGS :])


def test_a_platform_named_on_some_steps_only_is_still_one_platform():
    # Recorded from lesson 02's warm rebuild: only the FROM carries the platform.
    lines = """#1 [linux/amd64 1/4] FROM docker.io/library/python:3.13-slim@sha256:1f26
#1 DONE 0.0s
#2 [internal] load build definition from Dockerfile
#2 DONE 0.0s
#5 [2/4] RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev
#5 CACHED
#6 [3/4] RUN printf x
#6 CACHED
#7 [4/4] RUN apt-get purge -y gcc libc6-dev
#7 CACHED
#8 exporting to image
#8 DONE 2.7s""".splitlines()
    p = progress.Progress(tag="layerlab/02-trap:lesson")
    reader = buildlog.Reader()
    for line in lines:
        p.event(reader.feed(line))
    assert (p.total, p.done, p.ran, p.cached) == (4, 4, 0, 3)


def test_the_log_folder_keeps_at_most_max_logs(monkeypatch, tmp_path):
    monkeypatch.setenv(progress.LOG_DIR_ENV, str(tmp_path))
    monkeypatch.setattr(progress, "MAX_LOGS", 5)
    for i in range(8):
        progress.new_log_path(f"layerlab-grade-x:{i}").write_text("x")
    assert len(list(tmp_path.glob("*.log"))) == 5
