"""Benchmark (not a test): `layerlab grade-many` on a generated class of 02-slim submissions.

    PYTHONPATH=src .venv/bin/python tools/bench_grade_many.py [--students 30] [--jobs 1 2] [--keep DIR]

Generates STUDENTS submissions from six variants of 02-slim (two right, three wrong in different ways, and
pip without --no-cache-dir, which passes where pip keeps nothing for six's wheel, as on the course's machine),
copies of a variant byte-identical, as a class hands in much the same few answers. Each variant's
Dockerfile gets a line unique to the benchmark run (`RUN echo bench-<nonce>` after FROM), so its first
grading in each run misses BuildKit's cache and the copies after it can hit it. Then grades the class
once per --jobs value, each run with a fresh nonce, and prints, per run: the wall time, the median and
spread of the per-student seconds, the cache effect (the first grading of a variant vs its later
copies, --jobs 1 being the clean comparison), whether every copy of a variant got the same verdicts
(no cross-talk between concurrent gradings), the same across runs, and what was left in the engine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from layerlab.grade import batch  # noqa: E402
from layerlab.grade.sandbox import JOB_LABEL, RUN_LABEL  # noqa: E402

SOLUTION, STARTER = REPO / "solutions" / "02-slim", REPO / "exercises" / "02-slim"


def _edit(folder: Path, name: str, old: str, new: str) -> None:
    p = folder / name
    text = p.read_text()
    assert old in text, f"{name} has no {old!r}: the benchmark's variants need updating"
    p.write_text(text.replace(old, new, 1))


def variants() -> dict[str, tuple[Path, list[tuple[str, str, str]]]]:
    """name -> (the folder it starts from, edits (file, old, new)). Right ones first."""
    return {
        "right": (SOLUTION, []),
        "right-one-run": (
            SOLUTION,
            [
                (
                    "Dockerfile",
                    " && rm -rf /var/lib/apt/lists/*\n",
                    " && rm -rf /var/lib/apt/lists/* \\\n && pip install --no-cache-dir six==1.17.0\n",
                ),
                ("Dockerfile", "RUN pip install --no-cache-dir six==1.17.0\n", ""),
            ],
        ),
        "wrong-starter": (STARTER, []),
        "pip-without-no-cache-dir": (SOLUTION, [("Dockerfile", "pip install --no-cache-dir", "pip install")]),
        "wrong-lists-later": (
            SOLUTION,
            [
                ("Dockerfile", " \\\n && rm -rf /var/lib/apt/lists/*\n", "\n"),
                ("Dockerfile", "\nWORKDIR /app", "\nRUN rm -rf /var/lib/apt/lists/*\nWORKDIR /app"),
            ],
        ),
        "wrong-output": (SOLUTION, [("wordcount.py", "print(", "print('words:', ")]),
    }


def generate(root: Path, students: int, nonce: str) -> dict[str, str]:
    """The class under root; returns student -> variant."""
    names = list(variants())
    made = {}
    for i in range(students):
        variant = names[i % len(names)]
        src, edits = variants()[variant]
        student = f"{variant}-{i // len(names):02d}"  # sorted: a variant's copies in order, its first first
        d = root / student
        shutil.copytree(src, d, ignore=shutil.ignore_patterns("fixture.json"))
        for name, old, new in edits:
            _edit(d, name, old, new)
        _edit(
            d,
            "Dockerfile",
            "\nFROM python:3.13-slim\n",
            f"\nFROM python:3.13-slim\nRUN echo bench-{nonce} >/dev/null\n",
        )
        made[student] = variant
    return made


def run(students: int, jobs: int, keep: Path | None) -> dict[str, object]:
    nonce = uuid.uuid4().hex[:10]
    with tempfile.TemporaryDirectory(prefix="bench-grade-many-") as tmp:
        subs = Path(tmp) / "subs"
        subs.mkdir()
        by_variant = generate(subs, students, nonce)
        out = (keep / f"jobs{jobs}") if keep else Path(tmp) / "out"
        start = time.monotonic()
        b = batch.grade_many(
            subs, "02-slim", out, jobs=jobs, timeout=900, show=lambda line: print("  " + line, flush=True)
        )
        wall = time.monotonic() - start
    seconds = {g.row.student: g.row.seconds for g in b.graded}
    verdicts = {g.row.student: tuple((r.check, r.status, r.points) for r in g.report.results) for g in b.graded}
    first = [s for s in seconds if s.endswith("-00")]
    later = [s for s in seconds if not s.endswith("-00")]
    crosstalk = [
        v for v in set(by_variant.values()) if len({verdicts[s] for s, vv in by_variant.items() if vv == v}) != 1
    ]
    return {
        "jobs": jobs,
        "wall_s": wall,
        "median_s": statistics.median(seconds.values()),
        "min_s": min(seconds.values()),
        "max_s": max(seconds.values()),
        "first_median_s": statistics.median(seconds[s] for s in first),
        "later_median_s": statistics.median(seconds[s] for s in later),
        "statuses": {
            s: sum(r.status == s for r in b.rows) for s in ("passed", "failed", "broken", "timed out", "error")
        },
        "variants_with_differing_verdicts": crosstalk,
        "verdicts": {by_variant[s]: v for s, v in verdicts.items()},
        "left": b.left,
        "jobs_ids": {g.job for g in b.graded},
        "runs": {g.report.run_id for g in b.graded},
    }


def leftovers(jobs: set[str], runs: set[str]) -> list[str]:
    """An independent look, by both labels, at what the runs left in the engine."""
    from layerlab import engine

    client = engine.require()
    found = []
    for key, values in ((JOB_LABEL, jobs), (RUN_LABEL, runs)):
        flt = [("label", key)]
        found += [
            f"container {c.name}"
            for c in client.container.list(all=True, filters=flt)
            if c.config.labels.get(key) in values
        ]
        found += [
            f"image {i.id[:19]}" for i in client.image.list(filters=flt) if (i.config.labels or {}).get(key) in values
        ]
        found += [f"network {n.name}" for n in client.network.list(filters=flt) if (n.labels or {}).get(key) in values]
        found += [f"volume {v.name}" for v in client.volume.list(filters=flt) if (v.labels or {}).get(key) in values]
    return found


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--students", type=int, default=30)
    ap.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--keep", type=Path, help="keep each run's gradebook, reports and summary under this folder")
    args = ap.parse_args()
    print(f"{args.students} generated 02-slim submissions, {len(variants())} variants; {os.cpu_count()} CPUs")
    results = []
    for jobs in args.jobs:
        print(f"--jobs {jobs}:", flush=True)
        results.append(run(args.students, jobs, args.keep))
    for r in results:
        left = sorted(set(r["left"]) | set(leftovers(r["jobs_ids"], r["runs"])))  # type: ignore[arg-type]
        print(
            f"--jobs {r['jobs']}: {r['wall_s']:.0f} s in all; per student median {r['median_s']:.1f} s "
            f"(min {r['min_s']:.1f}, max {r['max_s']:.1f}); cache: a variant's first grading {r['first_median_s']:.1f} s, "
            f"its later copies {r['later_median_s']:.1f} s (medians); {r['statuses']}; "
            f"copies graded alike: {'yes' if not r['variants_with_differing_verdicts'] else r['variants_with_differing_verdicts']}; "
            f"left in the engine: {left or 'nothing'}"
        )
    if len(results) > 1:
        same = all(r["verdicts"] == results[0]["verdicts"] for r in results[1:])
        base = results[0]["wall_s"]
        print(
            "speed-up over the first run: "
            + ", ".join(f"--jobs {r['jobs']}: {base / r['wall_s']:.2f}x" for r in results)  # type: ignore[operator]
            + f"; the same verdicts in every run: {'yes' if same else 'NO'}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
