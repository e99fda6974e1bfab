"""Instructor notes quote recorded run times, and `layerlab timings` flags a run slower than them.

Every lesson's note carries one line written by `layerlab warm --record` from docs/lesson-times.json;
no other run time may be pasted into a note (issue 25: notes quoted 761 s where a run took 56 s).
"""

from __future__ import annotations

import re

import pytest

from layerlab import course as course_mod
from layerlab.course import instructor, lesson_times

COURSE = course_mod.load()
RECORDED = lesson_times.load()
# A duration in prose: "31 s", "4.5 minutes", "about a minute" is caught by the word list below.
_DURATION = re.compile(
    r"\b\d+(?:\.\d+)?\s*(?:s|sec|seconds?|min|minutes?|hours?)\b|\b(?:a|one|two|few) (?:minutes?|hours?)\b"
)
# Durations that are not a run of this lesson: Docker's own default, fixed by the engine.
_NOT_RUN_TIMES = ("10 s grace period",)


def _rec(module: str, warm: float = 50.0) -> lesson_times.RecordedTime:
    return lesson_times.RecordedTime(
        module=module,
        first_s=120.0,
        warm_s=warm,
        cold=True,
        at="2026-12-02T14:00:00+00:00",
        machine="docker 26.1.5 on Debian, linux/amd64, 2 CPU, 8 GB memory",
        load_1m=1.5,
    )


@pytest.mark.parametrize("m", COURSE.modules, ids=lambda m: m.id)
def test_each_note_quotes_its_recording_once(m):
    name = instructor.run_name(m)
    assert name in RECORDED, f"{name}: no recorded run; `layerlab warm {m.id} --record` records one"
    assert lesson_times.quoted(m) == [RECORDED[name].note_line()], (
        f"{name}'s instructor note is out of step with docs/lesson-times.json: `layerlab warm {m.id} --record`"
    )


@pytest.mark.parametrize("m", COURSE.modules, ids=lambda m: m.id)
def test_notes_paste_no_other_run_time(m):
    text = " ".join(instructor.instructor_notes(m))
    text = re.sub(r"Recorded by `layerlab warm --record`.*?warm run \d+ s\.", "", text)
    for allowed in _NOT_RUN_TIMES:
        text = text.replace(allowed, "")
    assert not _DURATION.findall(text), f"{m.id}: a time not taken from the recording: {_DURATION.findall(text)}"


def test_the_duration_pattern_finds_what_notes_used_to_paste():
    for pasted in ("775 s under nbval", "takes about 2.5 minutes", "runs in under a minute", "took 55 s"):
        assert _DURATION.search(pasted), pasted
    assert not _DURATION.search("a 64 MiB weights image, 8 GB of free disk, uid 10001")


def test_write_note_inserts_the_line_then_replaces_it(tmp_path):
    src = tmp_path / "97-demo.py"
    src.write_text(
        "# %% [markdown]\n# # 97\n#\n# > **Instructor note.** Run it first.\n# > Two lines.\n\n# %%\nprint(1)\n"
    )
    m = COURSE.module("00").model_copy(update={"id": "97", "slug": "demo", "notebook": str(src)})
    lesson_times.write_note(m, _rec("97-demo", warm=50))
    lines = src.read_text().splitlines()
    assert lines[5] == _rec("97-demo", warm=50).note_line() and lines[4] == "# > Two lines."
    lesson_times.write_note(m, _rec("97-demo", warm=61))
    assert lesson_times.quoted(m) == [_rec("97-demo", warm=61).note_line()]
    assert "warm run 61 s" in instructor.instructor_notes(m)[0]


def test_write_note_refuses_a_lesson_without_a_note(tmp_path):
    src = tmp_path / "97-demo.py"
    src.write_text("# %%\nprint(1)\n")
    m = COURSE.module("00").model_copy(update={"notebook": str(src)})
    with pytest.raises(ValueError, match="no '\\*\\*Instructor note"):
        lesson_times.write_note(m, _rec("97-demo"))


def test_save_merges_and_load_reads_back(tmp_path):
    path = tmp_path / "times.json"
    lesson_times.save([_rec("01-a"), _rec("02-b")], path)
    lesson_times.save([_rec("02-b", warm=70)], path)
    got = lesson_times.load(path)
    assert sorted(got) == ["01-a", "02-b"] and got["02-b"].warm_s == 70


def _timing(warm_s: float | None, run_s: float | None = None, recorded: float | None = 50.0):
    return instructor.ModuleTiming(
        module="05-multi-arch",
        title="t",
        teaching_minutes=40,
        exercise_minutes=20,
        run_s=run_s,
        run_ok=True,
        first_s=None,
        warm_s=warm_s,
        cells_from="warm run",
        recorded=_rec("05-multi-arch", recorded) if recorded else None,
    )


def test_timings_flag_a_run_over_the_recorded_warm_time():
    slow, usual = _timing(warm_s=80.0), _timing(warm_s=70.0)
    assert slow.over_recorded and not usual.over_recorded
    table = instructor.timings_table([slow, usual])
    over, fine = table.splitlines()[1:]
    assert "OVERRUN" in over and "50 s, 2026-12-02" in over and "OVERRUN" not in fine
    # without a warm run, the last `layerlab run` is judged; without a recording nothing is
    assert _timing(warm_s=None, run_s=90.0).over_recorded
    assert not _timing(warm_s=500.0, recorded=None).over_recorded
    assert slow.model_dump(mode="json")["over_recorded"] is True
