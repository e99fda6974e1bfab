"""Throw-away machines for the engine matrix: a privileged container with its own /var/lib/docker.

Each machine starts bare (Debian trixie, Python, git, make; no engine, no images, no venv), gets a
clone of the repository's committed HEAD, and runs one command in it: the matrix leg's script, which
installs the leg's engine with the course's own set-up and runs the course. The engine inside stores
its images in volumes of this engine's, so overlayfs sits on a real file system, and the volumes go
with the machine. What the leg writes under /out comes back to the caller's folder.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

from python_on_whales.exceptions import DockerException

from layerlab import engine
from layerlab.engine import labels
from layerlab.engine.result import Result
from layerlab.ground import settings
from layerlab.ground.text import Printer, error_text, last_line

IMAGE = "layerlab/matrix-machine:trixie"
# What the fresh machine of the README has, and nothing of the course's own set-up.
PACKAGES = "ca-certificates python3 python3-venv python3-dev git make gcc g++ curl xz-utils procps iproute2 kmod"
MACHINE_LABEL = "org.layerlab.matrix.leg"


class MachineRun(Result):
    name: str
    exit_code: int | None  # None: stopped at the time limit
    seconds: float
    log: str  # the whole console output, in the caller's folder


def _dockerfile(base: str) -> str:
    return (
        f"FROM {base}\n"
        "COPY ca.crt /usr/local/share/ca-certificates/gateway.crt\n"
        "RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "
        f"{PACKAGES} && update-ca-certificates >/dev/null 2>&1 && rm -rf /var/lib/apt/lists/*\n"
        "ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt CI=true\n"
    )


def ensure_image(base: str, say: Printer) -> str:
    """The machine image, built once from `base` (the course's Debian trixie image, official or stand-in)."""
    client = engine.require()
    if client.image.exists(IMAGE):
        return IMAGE
    if not client.image.exists(base):
        raise RuntimeError(f"the machine image starts from {base}, which is not here: run `make images` first")
    say(f"building the matrix machine image {IMAGE} from {base} (about a minute)")
    with tempfile.TemporaryDirectory(prefix="layerlab-machine-") as tmp:
        Path(tmp, "Dockerfile").write_text(_dockerfile(base))
        Path(tmp, "ca.crt").write_bytes(settings.ca_bundle().read_bytes())
        client.legacy_build(tmp, tags=[IMAGE], labels=labels.course_labels("matrix"))
    return IMAGE


def clone(repo: Path, into: Path) -> Path:
    """A fresh clone of the committed HEAD, as CI and the fresh machine see the project: nothing uncommitted."""
    dest = into / "project"
    subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(repo), str(dest)], check=True)
    return dest


def run(
    name: str,
    project: Path,
    out: Path,
    command: str,
    env: dict[str, str],
    timeout_s: int,
    say: Printer,
) -> MachineRun:
    """Run `command` in a new machine holding `project` at /work/project; its console goes to out/console.log."""
    client = engine.require()
    out, project = out.resolve(), project.resolve()  # bind mounts: a relative path would name a volume
    out.mkdir(parents=True, exist_ok=True)
    log_path = out / "console.log"
    # Docker's and Podman's stores each on a volume: overlayfs cannot sit on the machine's own overlay root.
    stores = [
        (client.volume.create(labels={**labels.course_labels("matrix"), MACHINE_LABEL: name}), path)
        for path in ("/var/lib/docker", "/var/lib/containers")
    ]
    container = None
    start = time.monotonic()
    code: int | None = None
    try:
        container = client.run(
            IMAGE,
            ["bash", "-c", command],
            name=f"layerlab-matrix-{name}",
            detach=True,
            privileged=True,
            volumes=[(v.name, path) for v, path in stores] + [(str(project), "/work/project"), (str(out), "/out")],
            workdir="/work/project",
            envs=env,
            labels={**labels.course_labels("matrix"), MACHINE_LABEL: name},
        )
        say(f"[matrix {name}] machine {container.name} started; console: {log_path}")
        with log_path.open("w") as log:
            # Follow the console until the command ends or the time limit; the log is the leg's own record.
            follow = subprocess.Popen(
                [engine.engine_command(), "logs", "-f", container.id], stdout=log, stderr=subprocess.STDOUT
            )
            try:
                follow.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                say(f"[matrix {name}] stopped at its limit of {timeout_s} s")
                follow.kill()
        container.reload()
        if not container.state.running:
            code = container.state.exit_code
    except DockerException as e:
        raise RuntimeError(
            f"the matrix machine {name} did not run: {last_line(error_text(e), 'no reason given')}"
        ) from None
    finally:
        if container is not None:
            client.container.remove(container, force=True, volumes=True)
        client.volume.remove([v for v, _ in stores])
    return MachineRun(name=name, exit_code=code, seconds=round(time.monotonic() - start, 1), log=str(log_path))
