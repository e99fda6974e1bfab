"""`layerlab record`: measure the reference solution the way grading measures a submission, and keep it.

The fixture holds the facts of the image every check starts from; each check
unit adds its own section (its `@records`), so no expected value is ever typed
in by hand. Hidden checks (solutions/<id>/hidden.yml) are measured too: they
compare with the same fixture.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path

from layerlab import course as C
from layerlab import engine

from . import exercise as exercise_mod
from . import fixture as fx_mod
from . import hidden as hidden_mod
from .checks import RECORDERS, RecordError
from .checks.spec import kind
from .exercise import Exercise
from .report import Report
from .runner import engine_line, grade
from .sandbox import Session
from .subject import NotBuilt, Subject
from .submission import check_input, copy, plant


def record(exercise_id: str, *, course_file: Path = C.COURSE_FILE) -> tuple[fx_mod.Fixture, Report]:
    """Build and run the reference solution, measure it, write its fixture, then grade it against that."""
    try:
        ex = exercise_mod.load(exercise_id, course_file)
        ex = ex.with_hidden(hidden_mod.load(course_file, ex.id))
    except (
        C.CourseFileError,
        exercise_mod.UnknownExercise,
        exercise_mod.ExerciseError,
        hidden_mod.HiddenChecksError,
    ) as e:
        raise RecordError(str(e)) from None
    folder = fx_mod.solution_dir(ex.id)
    f = measure_fixture(ex, folder)
    fx_mod.save(f)
    with tempfile.TemporaryDirectory(prefix="layerlab-record-hand-in-") as tmp:
        graded = folder
        for c in ex.checks:
            # What a student does before grading (push an image), done to a copy of the solution.
            graded = c.hand_in(ex, graded, Path(tmp)) or graded
        return f, grade(graded, ex.id, course_file=course_file, fixture=f)


def measure_fixture(ex: Exercise, folder: Path) -> fx_mod.Fixture:
    """Build and measure a reference folder the way grading measures a submission."""
    problems, _ = check_input(ex, folder)
    if problems:
        raise RecordError("the solution has problems:\n" + "\n".join(f"  {p}" for p in problems))
    engine.require()
    notebook = f"{ex.id}.py"
    with (
        tempfile.TemporaryDirectory(prefix="layerlab-record-") as tmp,
        Session(
            ex.id, ex.module, memory=ex.limits.memory, pids=ex.limits.pids, max_output=ex.limits.max_output_chars
        ) as session,
    ):
        work = Path(tmp) / "solution"
        copy(folder, work)
        plant(ex, work, session)
        s = Subject(ex, work, session)
        try:
            built = s.build()
        except NotBuilt as e:
            raise RecordError(f"the solution does not build: {e}") from None
        image = s.image
        f = fx_mod.Fixture(
            exercise=ex.id,
            recorded_at=datetime.now(UTC).isoformat(timespec="seconds"),
            engine=engine_line(),
            host_platform=engine.host_platform(),
            solution_digest=fx_mod.digest(folder, notebook),
            size_bytes=image.size_bytes,
            compressed_bytes=image.compressed_bytes,
            layers=len(image.layers),
            layer_sizes=[layer.size_bytes for layer in image.layers],
            wasted_bytes=image.wasted_bytes,
            user=image.user,
            entrypoint=image.entrypoint,
            cmd=image.cmd,
            context_bytes=built.context_bytes,
        )
        if (above := s.above_base) is not None:
            f.base_ref, f.base_image_id, f.base_standin = above.base_ref, above.base_image_id, above.base_standin
            f.base_bytes, f.added_bytes, f.added_wasted_bytes = (
                above.base_bytes,
                above.added_bytes,
                above.added_wasted_bytes,
            )
            f.base_wasted_bytes = above.base_wasted_bytes
        for c in ex.ordered():
            # What each check compares with (see its unit's @records and its fixture section).
            if (measure := RECORDERS.get(kind(type(c)))) is not None:
                measure(s, c, f)
    return f
