"""The course's two pages in build/ (index.html, instructor.html), and `layerlab run`, which keeps what they show.

Both are made from course.yml and what runs left in build/: runs.json and the
executed notebooks (`layerlab run`, `record_runs`), warm.json (`layerlab warm`), machines.json
(which machine and engine each run measured on: `engine.host.EngineHost`, written with runs.json) and
build/grade/*.json (`make grade`). The figures are the PNGs the executed
notebooks produced, copied out to build/figures/. Nothing on a page is typed by
hand: a module that has not run says so.
"""

from __future__ import annotations

import base64
import html
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nbformat

from layerlab.engine import host
from layerlab.engine.host import EngineHost
from layerlab.ground.text import Printer
from layerlab.ground.text import say as say_line

from . import Course, Exercise, Module, classroom, instructor, lesson_times, matrix, notebooks
from .notebooks import RunResult

MACHINES_FILE = "machines.json"
_REPLAYED = re.compile(r"\[replayed from a recorded run: (.+?)\]")


def esc(x: object) -> str:
    return html.escape(str(x), quote=True)


# --- the machine a run measured on: the engine layer's one description, kept per run ------------------


def note_machine(out_dir: Path, run_names: list[str], machine: EngineHost | None = None) -> None:
    """Remember which machine and engine these runs measured on (build/machines.json, merged)."""
    m = machine or host.describe()
    path = out_dir / MACHINES_FILE
    known = load_machines(out_dir)
    known.update({n: m for n in run_names})
    path.write_text(json.dumps({k: v.model_dump(mode="json") for k, v in known.items()}, indent=1))


def load_machines(out_dir: Path) -> dict[str, EngineHost]:
    """build/machines.json, older pages' records included (EngineHost converts them)."""
    path = out_dir / MACHINES_FILE
    try:
        if not path.exists():
            return {}
        return {k: EngineHost.model_validate(v) for k, v in json.loads(path.read_text()).items()}
    except (ValueError, TypeError):
        return {}


# --- what an executed notebook shows ----------------------------------------------------


@dataclass
class Figure:
    file: str  # relative to the page: figures/<run>-<n>.png
    caption: str  # the section heading the figure's cell is in
    width: int
    height: int


@dataclass
class Executed:
    figures: list[Figure] = field(default_factory=list)
    replayed: list[str] = field(
        default_factory=list
    )  # each distinct "engine on platform, date" a result was replayed from
    replayed_results: int = 0


def _png_size(data: bytes) -> tuple[int, int]:
    # IHDR: width and height are the two big-endian words after the 8-byte signature and the chunk header.
    if data[:8] != b"\x89PNG\r\n\x1a\n" or len(data) < 24:
        return 0, 0
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def read_executed(path: Path, out_dir: Path, run_name: str) -> Executed:
    """Copy the notebook's PNG outputs to out_dir/figures/ and find the results it replayed."""
    ex = Executed()
    if not path.exists():
        return ex
    nb = nbformat.read(path, as_version=4)
    fig_dir = out_dir / "figures"
    for old in fig_dir.glob(f"{run_name}-*.png"):
        old.unlink()
    heading = ""
    for c in nb.cells:
        if c.cell_type == "markdown":
            found = instructor.HEADING.findall(c.source)
            heading = found[-1].strip() if found else heading
            continue
        for o in c.get("outputs", []):
            if o.get("output_type") == "stream":
                for hit in _REPLAYED.findall(o.get("text", "")):
                    ex.replayed_results += 1
                    if hit not in ex.replayed:
                        ex.replayed.append(hit)
            png = o.get("data", {}).get("image/png") if "data" in o else None
            if not png:
                continue
            data = base64.b64decode(png)
            fig_dir.mkdir(parents=True, exist_ok=True)
            name = f"{run_name}-{len(ex.figures) + 1}.png"
            (fig_dir / name).write_bytes(data)
            w, h = _png_size(data)
            ex.figures.append(Figure(f"figures/{name}", heading, w, h))
    return ex


def grades(out_dir: Path) -> dict[str, dict[str, Any]]:
    """`make grade`'s reports (build/grade/<id>.json), by exercise id."""
    out: dict[str, dict[str, Any]] = {}
    for p in sorted((out_dir / "grade").glob("*.json")):
        try:
            d = json.loads(p.read_text())
            out[d["exercise"]] = {
                "passed": bool(d["passed"]),
                "points": d["points"],
                "max_points": d["max_points"],
                "engine": d.get("engine", ""),
                "at": datetime.fromtimestamp(p.stat().st_mtime, UTC).isoformat(timespec="minutes"),
            }
        except (ValueError, KeyError, TypeError):
            continue  # a report cut short (grading interrupted): no grade to show
    return out


# --- the pages ------------------------------------------------------------------------------

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:70em;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{margin-bottom:.2em} section{border-top:1px solid #ddd;padding-top:.5em;margin-top:1.5em}
.meta{color:#555;font-size:.92em} .warn{color:#a40} .ok{color:#060} .bad{color:#a00}
figure{display:inline-block;margin:.5em 1em .5em 0;vertical-align:top;max-width:32em}
figure img{max-width:100%;border:1px solid #ddd} figcaption{font-size:.85em;color:#555}
code{background:#f4f4f4;padding:0 .2em} td,th{padding:.2em .6em;text-align:left;vertical-align:top}
.cols{display:flex;gap:2em;flex-wrap:wrap} .cols>div{flex:1;min-width:20em}
nav a{margin-right:.8em}
"""


def _page(title: str, body: str) -> str:
    return (
        f"<!doctype html>\n<html lang='en'><head><meta charset='utf-8'><title>{esc(title)}</title>"
        f"<style>{_STYLE}</style></head>\n<body>\n{body}\n</body></html>\n"
    )


def inline(text: str) -> str:
    """Escaped text with course.yml's and the notes' inline markdown: `code` and **bold**."""
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", esc(text))
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", out)


def _ul(items: list[str]) -> str:
    return "<ul>" + "".join(f"<li>{inline(i)}</li>" for i in items) + "</ul>"


def _minutes(m: Module) -> str:
    return f"{m.teaching_minutes} min teaching" + (
        f" + {m.exercise_minutes} min exercise" if m.exercise_minutes else ""
    )


def _exercises(course: Course, m: Module) -> list[Exercise]:
    return [e for e in course.exercises if e.module == m.id]


def _grade_html(g: dict[str, Any] | None) -> str:
    if not g:
        return "<span class='meta'>not graded here yet (<code>make grade</code>)</span>"
    verdict = "<span class='ok'>passed</span>" if g["passed"] else "<span class='bad'>failed</span>"
    return f"graded: {verdict}, {g['points']}/{g['max_points']} points <span class='meta'>({esc(g['engine'])}, {esc(g['at'])})</span>"


def _nav(course: Course) -> str:
    return "<nav>" + "".join(f"<a href='#m{esc(m.id)}'>{esc(m.id)}</a>" for m in course.modules) + "</nav>"


def front_page(course: Course, out_dir: Path) -> str:
    runs, machines, graded = instructor.load_runs(out_dir), load_machines(out_dir), grades(out_dir)
    warmed = instructor.load_warm(out_dir)
    total = sum(m.teaching_minutes + m.exercise_minutes for m in course.modules)
    parts = [
        f"<h1>{esc(course.title)}</h1><p>{esc(course.description)}</p>",
        f"<p class='meta'>{len(course.modules)} modules, {total} minutes of teaching and exercises. "
        f"For instructors: <a href='instructor.html'>the instructor's page</a>.</p>",
    ]
    seen_machines = sorted({mc.where() for mc in machines.values()})
    if seen_machines:
        parts.append("<p class='meta'>Measured on: " + "; ".join(esc(s) for s in seen_machines) + "</p>")
    parts.append(_overview(course, runs, graded))
    for m in course.modules:
        name = instructor.run_name(m)
        r, mc, w = runs.get(name), machines.get(name), warmed.get(name)
        s = [f"<section id='m{esc(m.id)}'><h2>{esc(m.id)} · {esc(m.title)}</h2>"]
        ran = ""
        if r:
            state = "ran" if r["ok"] else f"<span class='bad'>failed: {esc(r.get('error') or '')}</span> after"
            ran = f"; the notebook {state} in {r['seconds']:.1f} s (<a href='{esc(r['html'])}'>executed lesson</a>)"
            if w and w.warm_s is not None:
                ran += f", {w.warm_s:.1f} s warm"
        else:
            ran = f"; <span class='warn'>not run here yet</span> (<code>layerlab run {esc(m.id)}</code>)"
        s.append(f"<p class='meta'>{esc(_minutes(m))}{ran}</p>")
        if mc:
            s.append(f"<p class='meta'>measured on {esc(mc.line())}</p>")
        elif r:
            s.append(
                f"<p class='meta'>machine not recorded (a run before the page kept it): <code>layerlab run {esc(m.id)}</code></p>"
            )
        s.append(
            f"<div class='cols'><div><h3>Objectives</h3>{_ul(m.objectives)}</div>"
            f"<div><h3>Key points</h3>{_ul(m.key_points)}</div></div>"
        )
        if r:
            ex = read_executed(out_dir / r["executed"], out_dir, name)
            if ex.replayed:
                s.append(
                    f"<p class='warn'>{ex.replayed_results} result(s) on this page were replayed, not measured here: "
                    f"recorded on {esc('; '.join(ex.replayed))}.</p>"
                )
            elif mc and mc.mode != "replay":
                s.append("<p class='meta'>Every number was measured in this run (nothing replayed).</p>")
            for f in ex.figures:
                s.append(
                    f"<figure><img src='{esc(f.file)}' alt='{esc(f.caption or m.title)}'"
                    + (f" width='{f.width // 2}'" if f.width else "")
                    + ">"
                    f"<figcaption>{esc(f.caption)}</figcaption></figure>"
                )
        for e in _exercises(course, m):
            s.append(
                f"<h3>Exercise: {esc(e.title)}</h3><p>Starter: <code>exercises/{esc(e.id)}/</code> "
                f"({e.total_points} points); grade it with <code>layerlab grade exercises/{esc(e.id)}</code>. "
                f"{_grade_html(graded.get(e.id))}</p>"
            )
        s.append("</section>")
        parts.append("".join(s))
    parts.append(_matrix_section(matrix.load()))
    parts.append(
        f"<p class='meta'>Page written {datetime.now(UTC).isoformat(timespec='seconds')} "
        f"from course.yml and build/.</p>"
    )
    return _page(course.title, "\n".join(parts))


def _matrix_section(m: matrix.Matrix) -> str:
    """The engines the course was run on (docs/matrix.json, `layerlab matrix LEG`), and what did not pass."""
    head = "<section id='engines'><h2>Engines the course runs on</h2>"
    if not m.legs:
        return (
            head + "<p class='warn'>No engine-matrix run is recorded: <code>layerlab matrix LEG</code>.</p></section>"
        )
    table = "<tr>" + "".join(f"<th>{esc(h)}</th>" for h in matrix.HEADER) + "</tr>"
    table += "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in matrix.rows(m))
    notes = [
        f"<li>{esc(r.leg)}, {esc(', '.join(names))}: {esc(status)}: {esc(reason)}</li>"
        for r in m.legs
        for names, status, reason in matrix.not_passed(r)
    ]
    return (
        head
        + "<p class='meta'>Each leg is a throw-away machine that set up its engine with the README's set-up, ran every "
        "lesson, and graded every exercise's solution (it must pass) and starter (it must fail).</p>"
        + f"<table>{table}</table>"
        + (f"<h3>What did not pass</h3><ul>{''.join(notes)}</ul>" if notes else "")
        + "</section>"
    )


def _overview(course: Course, runs: dict[str, dict[str, Any]], graded: dict[str, dict[str, Any]]) -> str:
    rows = []
    for m in course.modules:
        r = runs.get(instructor.run_name(m))
        ran = "not run yet" if not r else (f"{r['seconds']:.0f} s" if r["ok"] else "failed")
        exs = _exercises(course, m)
        grade = (
            ", ".join(
                f"{e.id}: {g['points']}/{g['max_points']}" if (g := graded.get(e.id)) else f"{e.id}: not graded"
                for e in exs
            )
            or "-"
        )
        rows.append(
            f"<tr><td><a href='#m{esc(m.id)}'>{esc(m.id)}</a></td><td>{esc(m.title)}</td>"
            f"<td>{m.teaching_minutes + m.exercise_minutes} min</td><td>{esc(ran)}</td><td>{esc(grade)}</td></tr>"
        )
    return (
        "<table><tr><th></th><th>module</th><th>time</th><th>notebook run</th><th>exercise grade</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def instructor_page(course: Course, out_dir: Path) -> str:
    times = {t.module: t for t in instructor.timings(course, out_dir)}
    parts = [
        f"<h1>{esc(course.title)}: the instructor's page</h1>",
        "<p>Before class: <code>layerlab warm MODULE…</code> builds what each demo builds and measures it warm; "
        "<code>layerlab timings</code> prints the table below; <code>layerlab reset MODULE</code> removes what a module "
        f"built so its demo can be shown cold again. Cells over {instructor.WAIT_LIMIT_S:.0f} s warm are flagged.</p>",
        _nav(course),
        _timings_table(list(times.values())),
        _class_section(classroom.load()),
    ]
    for m in course.modules:
        t = times[instructor.run_name(m)]
        s = [
            f"<section id='m{esc(m.id)}'><h2>{esc(m.id)} · {esc(m.title)}</h2>",
            f"<p class='meta'>{esc(_minutes(m))}. Warm up: <code>layerlab warm {esc(m.id)}</code>; "
            f"show it cold again: <code>layerlab reset {esc(m.id)}</code>.</p>",
            f"<div class='cols'><div><h3>Objectives</h3>{_ul(m.objectives)}</div>"
            f"<div><h3>Key points</h3>{_ul(m.key_points)}</div></div>",
        ]
        notes = instructor.instructor_notes(m)
        s.append("<h3>Instructor notes</h3>" + (_ul(notes) if notes else "<p class='warn'>none in the lesson</p>"))
        s.append("<h3>Timings</h3>" + _timing_html(t))
        exs = _exercises(course, m)
        if exs or m.challenges:
            rows = [
                f"<tr><td>exercise {esc(e.id)}: {esc(e.title)}</td><td><code>exercises/{esc(e.id)}/</code></td>"
                f"<td><code>solutions/{esc(e.id)}/</code></td></tr>"
                for e in exs
            ]
            rows += [
                f"<tr><td>challenge {esc(c.id)}: {esc(c.title)} ({c.minutes} min)</td><td>in the lesson</td>"
                f"<td><code>{esc(c.solution)}</code></td></tr>"
                for c in m.challenges
            ]
            s.append(
                "<h3>Exercises and their answers</h3><table><tr><th>task</th><th>starter</th><th>answer</th></tr>"
                + "".join(rows)
                + "</table>"
            )
        if m.quiz:
            s.append(
                f"<p class='meta'>Quiz: {len(m.quiz)} question(s); answers with <code>layerlab activities {esc(m.id)}</code>.</p>"
            )
        s.append("</section>")
        parts.append("".join(s))
    return _page(f"{course.title}: instructor", "\n".join(parts))


def _class_section(times: classroom.GradingTimes) -> str:
    """Running a class: the steps, and the grading times measured here, with the minutes a runner bills for them."""
    steps = [
        "release: `layerlab release --student DIR` (the students' repository, with the CI files of `classroom/`) and "
        "`layerlab release --autograder FILE` (the bundle; publish it, set `LAYERLAB_AUTOGRADER_URL` and "
        "`LAYERLAB_AUTOGRADER_DIGEST` as organisation variables)",
        "grade in CI: each push grades the exercises due on the student's runner "
        "(`.github/workflows/grade.yml` or `.gitlab-ci.yml`), with the job summary, JUnit and Classroom 50 reports",
        "collect and grade the class: `layerlab grade-many SUBMISSIONS --exercise ID --autograder FILE@sha256:...`",
        "regrade: a new bundle, the same `grade-many`; the gradebook says whose grade changed",
    ]
    rows = "".join(
        f"<tr><td><code>{esc(t.exercise)}</code></td><td>{esc(t.cache)}</td><td>{t.seconds:.0f} s</td>"
        f"<td>{classroom.billed_minutes(t.seconds)}</td><td>{'yes' if t.passed else 'NO'}</td>"
        f"<td class='meta'>{esc(t.engine)}, {t.cpus} CPUs, load {t.load:g}, {esc(t.measured_at[:10])}</td></tr>"
        for t in times.times
    )
    table = (
        "<table><tr><th>exercise</th><th>build cache</th><th>grading wall time</th><th>billed minutes (grading "
        f"alone)</th><th>passed</th><th>measured on</th></tr>{rows}</table>"
        if rows
        else "<p class='warn'>No grading time measured yet: "
        "<code>python -m layerlab.course.classroom measure --cold ID</code>.</p>"
    )
    return (
        "<section id='class'><h2>Running a class</h2>"
        + _ul(steps)
        + "<h3>Runner minutes per exercise</h3><p class='meta'>Grading the reference solution, measured here "
        "(<code>classroom/grading-times.json</code>); a hosted runner bills whole minutes per job and adds its set-up, "
        "which the action measures and writes under each job's summary.</p>" + table + "</section>"
    )


def _timings_table(rows: list[instructor.ModuleTiming]) -> str:
    def s(x: float | None) -> str:
        return "-" if x is None else f"{x:.0f}"

    body = "".join(
        f"<tr><td><a href='#m{esc(t.module[:2])}'>{esc(t.module)}</a></td><td>{t.teaching_minutes}</td><td>{s(t.run_s)}</td>"
        f"<td>{s(t.first_s)}</td><td>{s(t.warm_s)}</td>"
        f"<td class='{'warn' if t.over_recorded else ''}'>{s(t.recorded.warm_s if t.recorded else None)}</td>"
        f"<td class='{'warn' if t.slow_cells or t.over_time else ''}'>"
        f"{esc('not run yet' if not t.cells_from else ', '.join(f'cell {c.cell}: {c.seconds:.0f} s' for c in t.slow_cells) or 'none')}"
        f"{esc('' if t.cells_from in ('', 'warm run') else ' (not known warm)')}</td></tr>"
        for t in rows
    )
    return (
        f"<table><tr><th>module</th><th>teaching min</th><th>last run s</th><th>first run s</th><th>warm s</th>"
        f"<th>recorded warm s</th><th>cells over {instructor.WAIT_LIMIT_S:.0f} s</th></tr>{body}</table>"
    )


def _timing_html(t: instructor.ModuleTiming) -> str:
    if not t.cells_from:
        return f"<p class='warn'>not run here yet: <code>layerlab warm {esc(t.module[:2])}</code> measures it.</p>"

    def s(x: float | None) -> str:
        return "not measured" if x is None else f"{x:.1f} s"

    lines = [f"last run {s(t.run_s)}", f"first run of the warm-up {s(t.first_s)}", f"warm {s(t.warm_s)}"]
    out = "<p>" + esc("; ".join(lines)) + "</p>"
    if t.over_time:
        out += f"<p class='warn'>The cells alone take longer than the {t.teaching_minutes} teaching minutes.</p>"
    if t.over_recorded and t.recorded:
        out += (
            f"<p class='warn'>Slower than the recorded warm run the instructor note quotes "
            f"({t.recorded.warm_s:.0f} s on {esc(t.recorded.at[:10])}) by more than "
            f"{lesson_times.OVERRUN_FACTOR:g}x.</p>"
        )
    slow = t.slow_cells
    which = "warm" if t.cells_from == "warm run" else "in the last run (not known warm)"
    if slow:
        out += (
            f"<p class='warn'>Cells over {instructor.WAIT_LIMIT_S:.0f} s {esc(which)}:</p><ul>"
            + "".join(
                f"<li>cell {c.cell}, {c.seconds:.0f} s: {esc(c.heading)} <code>{esc(c.first_line)}</code></li>"
                for c in slow
            )
            + "</ul>"
        )
    else:
        out += f"<p class='ok'>No cell over {instructor.WAIT_LIMIT_S:.0f} s {esc(which)}.</p>"
    return out


def write_pages(course: Course, out_dir: Path) -> tuple[Path, Path]:
    """Write build/index.html and build/instructor.html from course.yml and what ran."""
    out_dir.mkdir(parents=True, exist_ok=True)
    index, teacher = out_dir / "index.html", out_dir / "instructor.html"
    index.write_text(front_page(course, out_dir), encoding="utf-8")
    teacher.write_text(instructor_page(course, out_dir), encoding="utf-8")
    return index, teacher


# --- runs: execute lessons, keep their rows, write the pages ------------------------------------


def write_index(results: list[RunResult], out_dir: Path, course: Course) -> Path:
    """runs.json, then the course's front page (index.html) and the instructor's page from it."""
    (out_dir / "runs.json").write_text(json.dumps([r.model_dump(mode="json") for r in results], indent=2))
    index, _ = write_pages(course, out_dir)
    return index


def record_runs(course: Course, results: list[RunResult], out_dir: Path) -> Path:
    """Keep these runs as `layerlab run` does: merged into runs.json, their machine noted, the pages rewritten."""
    # Runs merge into what earlier runs left, so `layerlab run 02` keeps the others' rows.
    previous = {}
    runs_file = out_dir / "runs.json"
    if runs_file.exists():
        try:
            previous = {r["module"]: RunResult.model_validate(r) for r in json.loads(runs_file.read_text())}
        except (ValueError, TypeError):
            previous = {}
    note_machine(out_dir, [r.module for r in results])
    merged = {**previous, **{r.module: r for r in results}}
    order = [f"{m.id}-{m.slug}" for m in course.modules]
    return write_index([merged[k] for k in order if k in merged], out_dir, course)


def run(course: Course, modules: list[Module], out_dir: Path, say: Printer = say_line) -> list[RunResult]:
    """`layerlab run`: execute each lesson headless (notebooks.execute), then keep the runs and write the pages."""
    results = [notebooks.execute(m, out_dir, say) for m in modules]
    record_runs(course, results, out_dir)
    return results
