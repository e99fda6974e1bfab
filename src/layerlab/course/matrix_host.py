"""`layerlab matrix LEG`: run one leg of the engine matrix in a throw-away machine and keep its result.

The machine (engine/machine.py) gets a clone of the committed HEAD and runs scripts/matrix-leg.sh; the
leg's result is merged into docs/matrix.json, which the course page and the README's table show.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from layerlab.course import matrix, matrix_run
from layerlab.engine import catalogue, engine_vm, machine
from layerlab.ground.settings import REPO
from layerlab.ground.text import Printer
from layerlab.ground.text import say as say_line

LEG_LIMIT_S = 3 * 3600


def run(leg: matrix.Leg, keep: Path, say: Printer = say_line, limit_s: int = LEG_LIMIT_S) -> matrix.LegResult:
    """Run `leg`; its console, set-up log and lesson pages stay in `keep`/LEG."""
    out = (keep / leg.id).resolve()  # a bind mount needs an absolute path
    if leg.machine == "vm":
        return _keep(run_in_vm(leg, out, say, round(limit_s * leg.time_factor)))
    machine.ensure_image(catalogue.DEBIAN_SLIM.ref, say)
    with tempfile.TemporaryDirectory(prefix=f"layerlab-matrix-{leg.id}-") as tmp:
        project = machine.clone(REPO, Path(tmp))
        ran = machine.run(leg.id, project, out, f"bash scripts/matrix-leg.sh {leg.id}", leg.env, limit_s, say)
    result_file = out / "leg.json"
    if result_file.exists():
        result = matrix.LegResult.model_validate(json.loads(result_file.read_text()))
    elif (out / "setup.log").exists() and ran.exit_code is not None:
        # The set-up failed before the course's Python existed in the machine: the leg is that failure.
        result = setup_failed(leg, (out / "setup.log").read_text(errors="replace"), ran.seconds, ran.exit_code)
    else:
        end = "stopped at its time limit" if ran.exit_code is None else f"exited {ran.exit_code}"
        raise RuntimeError(f"the {leg.id} leg wrote no result ({end}); its console: {ran.log}")
    return _keep(result)


def _keep(result: matrix.LegResult) -> matrix.LegResult:
    m = matrix.merge(matrix.load(), result)
    matrix.save(m)
    matrix.README.write_text(matrix.readme_with(m, matrix.README.read_text()))
    return result


def run_in_vm(leg: matrix.Leg, out: Path, say: Printer, limit_s: int) -> matrix.LegResult:
    """The leg's lessons and gradings run here, from this checkout, against the engine in a VM of its own.

    The set-up is the VM: its disk (made once), its boot, and the base images copied from this machine's engine.
    """
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, cwd=REPO
    ).stdout.strip()
    if dirty:
        raise RuntimeError(
            "a VM leg runs the course from this checkout and records its commit: commit or stash the changes first"
        )
    out.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    try:
        with engine_vm.running(say, arch=leg.vm_arch) as box:
            engine_vm.load_images([b.ref for b in catalogue.BASE_IMAGES], box, say)
            setup_s = time.monotonic() - start
            say(f"engine VM ready in {setup_s:.0f} s ({box.accelerator}); running {leg.id}, its console: {out}")
            cmd = [sys.executable, "-m", "layerlab.course.matrix_run", leg.id, "--setup-rc", "0"]
            cmd += ["--setup-seconds", f"{setup_s:.1f}", "--out", str(out / "leg.json")]
            with (out / "console.log").open("w") as log:
                try:
                    env = box.env() | {"LAYERLAB_TIME_FACTOR": str(leg.time_factor)}
                    subprocess.run(cmd, env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, timeout=limit_s)
                except subprocess.TimeoutExpired:
                    raise RuntimeError(
                        f"the {leg.id} leg did not finish within {limit_s} s; its console: {log.name}"
                    ) from None
    except engine_vm.EngineVMUnavailable as e:
        return setup_failed(leg, str(e), round(time.monotonic() - start, 1), 1)
    result_file = out / "leg.json"
    if not result_file.exists():
        raise RuntimeError(f"the {leg.id} leg wrote no result; its console: {out / 'console.log'}")
    return matrix.LegResult.model_validate(json.loads(result_file.read_text()))


def setup_failed(leg: matrix.Leg, log: str, seconds: float, rc: int) -> matrix.LegResult:
    reason = matrix_run.setup_reason(rc, log)
    return matrix.LegResult(
        leg=leg.id,
        title=leg.title,
        engine="not installed",
        native="?",
        cgroup="?",
        builder="none",
        commit=_commit(),
        ran_at=datetime.now(UTC).isoformat(timespec="seconds"),
        seconds=seconds,
        outcomes=[matrix.Outcome(kind="setup", id="make setup", status="failed", reason=reason, seconds=seconds)],
    )


def _commit() -> str:
    p = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO)
    return p.stdout.strip() or "?"
