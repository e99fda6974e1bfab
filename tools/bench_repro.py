"""Benchmark (not a test): how often two builds of exercise 10-prod's solution give one digest.

    PYTHONPATH=src .venv/bin/python tools/bench_repro.py [--tries 10] [--apart 5] [--json FILE]

Each try builds the solution twice without the cache, as CI builds a release and as the grader's
`reproducible_digest` does (the build argument SOURCE_DATE_EPOCH, the OCI exporter's
`rewrite-timestamp=true`), `--apart` seconds apart so that a time written by a step would differ.
Prints each try's two digests and, when they differ, the first files that do (measure.repro); then
how many tries of all gave one digest. Issue 28's goal: 10 out of 10.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from layerlab.engine import build  # noqa: E402
from layerlab.measure import repro  # noqa: E402

SOLUTION = REPO / "solutions" / "10-prod"
EPOCH = "1767225600"


def one_build(folder: Path, dest: Path) -> str:
    r = build.build(
        folder,
        "layerlab-bench-repro:latest",
        module="10",
        show=None,
        cache=False,
        output={"type": "oci", "dest": str(dest), "rewrite-timestamp": "true"},
        build_args={"SOURCE_DATE_EPOCH": EPOCH},
    )
    if not r.digest:
        raise SystemExit(f"the build gave no digest: {r}")
    return r.digest


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tries", type=int, default=10)
    ap.add_argument("--apart", type=float, default=5.0, help="seconds between the two builds of a try")
    ap.add_argument("--json", type=Path, help="write the tries here")
    args = ap.parse_args()
    tries = []
    with tempfile.TemporaryDirectory(prefix="layerlab-bench-repro-") as tmp:
        work = Path(tmp)
        for n in range(1, args.tries + 1):
            started = time.monotonic()
            a = one_build(SOLUTION, work / "a.tar")
            time.sleep(args.apart)
            b = one_build(SOLUTION, work / "b.tar")
            same = a == b
            line = f"try {n:2d}: {a[7:19]} {b[7:19]} {'same' if same else 'DIFFERENT'} ({time.monotonic() - started:.0f} s)"
            if not same:
                line += "\n" + repro.archives(work / "a.tar", work / "b.tar").summary()
            print(line, flush=True)
            tries.append({"try": n, "digests": [a, b], "same": same})
    same = sum(t["same"] for t in tries)
    print(f"{same} of {len(tries)} tries gave one digest (SOURCE_DATE_EPOCH={EPOCH}, rewrite-timestamp=true, no cache)")
    if args.json:
        args.json.write_text(json.dumps({"tries": tries, "same": same}, indent=1), encoding="utf-8")
    return 0 if same == len(tries) else 1


if __name__ == "__main__":
    raise SystemExit(main())
