"""A submission's compose file, run the way the grader can trust: its own project, labelled, loopback only.

The student's file is read by compose itself (`compose config`), then run as a
rewritten copy: the project gets a name unique to the grading run (parallel
runs never collide), every service, network and volume gets the course label
and the run's label (the session removes them however grading ends), the
services that `build: .` run the image the `builds` check made, and every
published port is bound to 127.0.0.1 at a port the engine picks. The port
checks read the student's own file, before that rewrite.

A stack is confined to the submission, as a build is to its context (see
`confinement`): a file that would read another file of this machine (`include`,
`extends` of another file, an `env_file`, a secret's file outside the folder),
mount one (a bind mount from outside the folder, a volume with driver options),
or share its privileges or namespaces (privileged, capabilities, devices, the
host's network or PIDs) is refused before anything runs, with what to change,
so another submission, the solutions and the autograder stay out of reach.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path

import yaml

from layerlab.engine import compose

from . import confinement
from .confinement import ComposeProblem
from .subject import Subject

GRADED_FILE = "compose.graded.json"


class ComposeRun:
    """One submission's compose project during one grading run."""

    def __init__(self, subject: Subject, compose_file: str):
        self.subject = subject
        self.folder = subject.context
        self.file = self.folder / compose_file
        self.name = f"layerlab-grade-{subject.exercise.id}-{subject.session.run_id}"
        self.raw: dict | None = None  # the student's file, as compose reads it
        self.project: compose.Project | None = None
        self.started: compose.Up | None = None

    # --- reading and rewriting ----------------------------------------------

    def config(self) -> dict:
        if self.raw is None:
            if not self.file.is_file():
                raise ComposeProblem(
                    f"no {self.file.name} in the submission", "hand in the compose file the exercise names"
                )
            # Before compose reads the file: reading it is what fetches an included or env file.
            try:
                written = yaml.safe_load(self.file.read_text(encoding="utf-8"))
            except yaml.YAMLError:
                written = None  # compose says what is wrong with it, below
            if isinstance(written, dict):
                confinement.check_written(written, self.folder, self.file.name)
            p = compose.Project(self.name, [self.file])
            try:
                self.raw = p.config()
            except compose.ComposeError as e:
                raise ComposeProblem(
                    f"{self.file.name} is not a valid compose file: {e}", _config_hint(str(e))
                ) from None
            confinement.check_config(self.raw, self.folder, self.file.name)
        return self.raw

    def service(self, name: str) -> dict:
        services = self.config().get("services") or {}
        if name not in services:
            raise ComposeProblem(
                f"{self.file.name} has no service {name!r} (it has: {', '.join(services) or 'none'})",
                f"keep the service named {name}: the grader talks to it",
            )
        return services[name]

    def prepared(self) -> compose.Project:
        """The rewritten project, written into the grading run's scratch folder; raises ComposeProblem."""
        if self.project is not None:
            return self.project
        cfg = json.loads(json.dumps(self.config()))
        cfg["name"] = self.name
        tagged = self.subject.session.labels
        for kind in ("networks", "volumes"):
            for key, spec in (cfg.get(kind) or {}).items():
                spec = spec or {}
                if spec.get("external"):
                    raise ComposeProblem(
                        f"{kind[:-1]} {key} is external: it lives outside the project",
                        "let compose create it: remove `external: true`",
                    )
                spec["labels"] = {**(spec.get("labels") or {}), **tagged}
                spec.pop("name", None)  # compose names it after the run's project
                cfg[kind][key] = spec
        cfg.setdefault("networks", {}).setdefault("default", {"labels": tagged})
        for name, svc in (cfg.get("services") or {}).items():
            build = svc.pop("build", None)
            if build is not None:
                ctx = Path(build.get("context", ".")).resolve() if isinstance(build, dict) else Path(build).resolve()
                dockerfile = build.get("dockerfile", "Dockerfile") if isinstance(build, dict) else "Dockerfile"
                if ctx != self.folder.resolve() or dockerfile != self.subject.exercise.dockerfile:
                    raise ComposeProblem(
                        f"service {name} builds {ctx.name}/{dockerfile}, not the exercise's {self.subject.exercise.dockerfile}",
                        "build every Python service from `build: .`",
                    )
                svc["image"] = self.subject.tag  # built once by the `builds` check, within its limits
            svc["pull_policy"] = "never"
            svc["labels"] = {**(svc.get("labels") or {}), **tagged}
            svc.pop("container_name", None)  # a fixed name collides with a parallel grading run
            for port in svc.get("ports") or []:
                port["host_ip"] = "127.0.0.1"
                port.pop("published", None)
        path = self.subject.session.scratch / GRADED_FILE  # never into the student's folder
        path.write_text(json.dumps(cfg, indent=1), encoding="utf-8")
        self.project = compose.Project(self.name, [path])
        return self.project

    # --- running ------------------------------------------------------------

    def seed(self, target: str, script: str) -> None:
        """Leave the named volumes mounted at `target` as an earlier version of the stack did, before the first
        `up` (compose_probes.seed_volume). Found by where they are mounted, not by name: renaming the volume
        does not make the earlier state go away on the servers."""
        from layerlab.engine import compose_probes

        sources: set[str] = {
            str(m["source"])
            for svc in (self.config().get("services") or {}).values()
            for m in svc.get("volumes") or []
            if isinstance(m, dict) and m.get("type") == "volume" and m.get("target") == target and m.get("source")
        }
        for volume in sorted(sources):
            compose_probes.seed_volume(self.name, volume, self.subject.tag, script, self.subject.session.labels)

    def up(self, timeout_s: int) -> compose.Up:
        """`up --wait`, stopped at timeout_s (compose.up_live's watchdog)."""
        return compose.up_live(self.prepared(), wait=True, timeout_s=timeout_s)

    def down(self) -> compose.Down:
        """`compose down`, keeping named volumes; anonymous ones go too, since no later `up` can find them again."""
        return compose.down_live(self.prepared(), anonymous=True)

    def ps(self) -> compose.Ps:
        return compose.ps_live(self.name, log_lines=8)

    def get(self, service: str, port: int, path: str) -> tuple[int | None, str]:
        try:
            url = compose.published(self.prepared(), service, port)
        except Exception as e:  # noqa: BLE001 - reported as a failed check
            raise ComposeProblem(
                f"service {service} publishes no port {port}: {compose.why(e, 1)}",
                f'publish the API\'s port: `ports: ["127.0.0.1::{port}"]`',
            ) from None
        for _ in range(3):  # healthy means it answered its own check; allow a moment for the first connection
            try:
                with urllib.request.urlopen(url + path, timeout=5) as r:  # noqa: S310 - our own container
                    return r.status, r.read(2000).decode("utf-8", "replace")
            except urllib.error.HTTPError as e:
                return e.code, e.read(500).decode("utf-8", "replace")
            except OSError:
                time.sleep(1)
        return None, ""

    def trouble(self) -> str:
        """The services that are not running or exited non-zero, with their last log lines."""
        lines = []
        for s in self.ps().services:
            if s.state == "running" and s.health in (None, "healthy"):
                continue
            if s.state == "exited" and s.exit_code == 0:
                continue
            lines.append(
                f"{s.service}: {s.state}"
                + (f" ({s.health})" if s.health else "")
                + (f", exit {s.exit_code}" if s.state == "exited" else "")
            )
            lines += [f"  | {line}" for line in s.log.splitlines()[-4:]]
        return "\n".join(lines)


def _config_hint(error: str) -> str:
    low = error.lower()
    if "undefined service" in low or "depends on" in low:
        return "depends_on names a service that the file does not define: check the spelling"
    if "yaml" in low or "mapping" in low or "indent" in low:
        return "the YAML does not parse: check the indentation on the line named above"
    if "additional property" in low or "not allowed" in low:
        return "a key is misspelled or misplaced (compose names it above)"
    return "run `docker compose config` in the folder to see what compose objects to"
