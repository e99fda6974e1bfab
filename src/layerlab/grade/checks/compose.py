"""A compose stack (exercise 08): it comes up and answers, it survives down and up, only the API publishes, on loopback."""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import Field

from ..composed import ComposeProblem, ComposeRun
from ..fixture import Fixture, Section
from ..subject import Subject
from .base import Context, Failed, NotRun, RecordError, check, excerpt, records
from .spec import CheckBase


class ComposeCheck(CheckBase):
    file: str = Field(default="compose.yaml", description="the compose file, relative to the exercise")
    service: str = Field(default="api", description="the service that serves the model")
    port: int = Field(gt=0, lt=65536, default=8000, description="the port the service listens on in its container")


class ComposeUpPredicts(ComposeCheck):
    check: Literal["compose_up_predicts"]
    path: str = Field(default="/predict?x=2.5", description="GET this; the body must equal the fixture's")
    wait_s: int = Field(
        gt=0, le=300, default=90, description="`up --wait --wait-timeout`: the stack must serve within this"
    )
    seed: dict[str, str] = Field(
        default_factory=dict,
        description="mount path -> a shell script run as root before the first `up`, with each named volume "
        "the stack mounts there at /seed: the state an earlier version of the stack left",
    )


class ComposeNonRoot(ComposeCheck):
    check: Literal["compose_non_root"]
    services: list[str] = Field(min_length=1, description="services whose process must not run as root")


class ComposePersists(ComposeCheck):
    check: Literal["compose_persists"]
    path: str = "/predict?x=2.5"
    wait_s: int = Field(gt=0, le=300, default=90)
    jobs: list[str] = Field(
        default_factory=lambda: ["prep", "train"],
        min_length=1,
        description="one-shot jobs that must reuse their output after down and up (print 'reused', or not run)",
    )


class ComposePortsLoopback(ComposeCheck):
    check: Literal["compose_ports_loopback"]


class Answered(Section):
    """What the solution's stack answered to the `compose_up_predicts` GET."""

    name = "compose"
    body: str


def _compose_run(ctx: Context, spec: ComposeCheck) -> ComposeRun:
    from layerlab.engine import compose

    s = ctx.need_subject()
    s.build()  # the services run this image; without it the check is not run
    key = ("compose", spec.file)
    if "compose_version" not in ctx.extras:
        ctx.extras["compose_version"] = compose.version()
    if ctx.extras["compose_version"] is None:
        raise NotRun("`docker compose` (v2) is not installed: `layerlab doctor` says how to add it")
    if key not in ctx.extras:
        ctx.extras[key] = ComposeRun(s, spec.file)
    return ctx.extras[key]


def _compose_failed(e: ComposeProblem) -> Failed:
    return Failed(e.detail, e.hint)


# compose's own progress lines ("Container p-api-1  Waiting"): what it was doing, never why it failed.
_PROGRESS = re.compile(
    r"(Container|Network|Volume|Image)\s+\S+\s+(Creating|Created|Starting|Started|Waiting|Healthy|"
    r"Running|Recreate|Recreated|Stopping|Stopped|Removing|Removed|Exited|Pulling|Pulled|Building|Built)"
)


def up_failure(what: str, error: str, trouble: str) -> str:
    """A failed `up`: the cause first (the services that exited or never became healthy, with their last log
    lines), then what compose itself said, without its progress lines."""
    said = [part.strip() for part in error.split(" | ") if part.strip() and not _PROGRESS.fullmatch(part.strip())]
    out = [what + (":" if trouble or said else "")]
    if trouble:
        out.append(trouble)
    if said:
        out.append("compose said: " + " | ".join(said))
    return "\n".join(out)


def _up_hint(error: str, trouble: str) -> str:
    low = (error + "\n" + trouble).lower()
    if "permission denied" in low:
        return (
            "a job cannot write into a volume: a named volume takes its owner from the image only when it is "
            "created empty, and this one already holds files an earlier root run left. Change the owner once, "
            'before the jobs run: a one-shot service with `user: "0"` that runs chown on the volume, which the '
            "writer waits for (condition: service_completed_successfully); the jobs themselves stay non-root"
        )
    if "no model" in low:
        return (
            "the API started before the model existed, or cannot see it: make it wait for the training job "
            "(depends_on with condition: service_completed_successfully) and mount the volume the job writes the model to"
        )
    if re.search(r"exited \(0\)", low):
        # Which of the two a starter hits is a race: the API's crash, or compose seeing the job stop first.
        return (
            "a job ended as it should, but `up --wait` counts a service that stops as failed unless another "
            "waits for it: make the API depend on the training job (and that on prep) with "
            "condition: service_completed_successfully"
        )
    if "unhealthy" in low:
        return (
            "a health check keeps failing: run its test command by hand in the running service "
            "(`docker compose exec api python health.py; echo $?`) and make it exit 0 once the API answers"
        )
    if any(w in low for w in ("timeout", "timed out", "at the limit", "not healthy", "health check", "starting")):
        return "the stack did not become healthy in time: does the API's healthcheck pass? does a job wait forever?"
    if "no such image" in low or "pull access denied" in low:
        return "a service names an image that is not on this machine: build the Python services with `build: .`"
    return "a service exited or never became healthy: read its last log lines above"


def compose_up(ctx: Context, spec: ComposeUpPredicts | ComposePersists) -> ComposeRun:
    cr = _compose_run(ctx, spec)
    try:
        cr.service(spec.service)
        if cr.started is None:
            for c in ctx.exercise.checks:
                for target, script in c.seed.items() if isinstance(c, ComposeUpPredicts) else ():
                    cr.seed(target, script)
            cr.started = cr.up(spec.wait_s)
    except ComposeProblem as e:
        raise _compose_failed(e) from None
    if not cr.started.ok:
        trouble = cr.trouble()
        raise Failed(
            up_failure(
                f"`compose up --wait` failed after {cr.started.seconds:.0f} s (limit {spec.wait_s} s)",
                cr.started.error,
                trouble,
            ),
            _up_hint(cr.started.error, trouble),
        )
    return cr


def _answers_fixture(ctx: Context, cr: ComposeRun, spec: ComposeUpPredicts | ComposePersists, when: str) -> str:
    fx = ctx.need_fixture().section(Answered)
    if fx is None:
        raise NotRun(
            f"the fixture of {ctx.exercise.id} holds no recorded answer: run `layerlab record {ctx.exercise.id}`"
        )
    try:
        status, body = cr.get(spec.service, spec.port, spec.path)
    except ComposeProblem as e:
        raise _compose_failed(e) from None
    if status != 200:
        raise Failed(
            f"{when}: GET {spec.path} on {spec.service} answered {status or 'nothing'} {body[:200]}",
            "the API runs but does not answer as the exercise's: keep serve.py and the model as given",
        )
    if _json_or_text(body) != _json_or_text(fx.body):
        raise Failed(
            f"{when}: GET {spec.path} answered {body[:200]!r}, expected {fx.body[:200]!r}",
            "the API serves another model than the exercise's pipeline trains: keep prep.py and train.py as given",
        )
    return body


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text.strip()


@check(ComposeUpPredicts)
def compose_up_predicts(ctx: Context, spec: ComposeUpPredicts) -> str:
    cr = compose_up(ctx, spec)
    body = _answers_fixture(ctx, cr, spec, "after up --wait")
    assert cr.started is not None  # compose_up started it or failed
    return f"up --wait in {cr.started.seconds:.1f} s; GET {spec.path} answered {body.strip()[:80]}"


@check(ComposePersists)
def compose_persists(ctx: Context, spec: ComposePersists) -> str:
    from layerlab.engine import compose

    cr = compose_up(ctx, spec)
    try:
        went = cr.down()
        again = cr.up(spec.wait_s)
    except (ComposeProblem, compose.ComposeError) as e:
        raise Failed(str(e), "the stack must survive `down` and `up`") from None
    if not again.ok:
        trouble = cr.trouble()
        raise Failed(
            up_failure("after down, `up --wait` failed", again.error, trouble),
            "the model or data were lost with the containers: keep them in named volumes that every job mounts",
        )
    ran = cr.ps()
    for job in spec.jobs:
        for s in ran.of(job):
            if s.state == "exited" and s.exit_code == 0 and "reused" not in s.log:
                raise Failed(
                    f"after down and up, {job} ran again instead of reusing its output:\n" + excerpt(s.log, 3),
                    f"{job} writes into its container's own files, which `down` deletes: write into a named volume",
                )
    _answers_fixture(ctx, cr, spec, "after down and up")
    return (
        f"down kept {len(went.left.volumes)} volume(s); up --wait again in {again.seconds:.1f} s; "
        f"{', '.join(spec.jobs)} reused their output"
    )


@check(ComposeNonRoot)
def compose_non_root(ctx: Context, spec: ComposeNonRoot) -> str:
    cr = _compose_run(ctx, spec)
    image_user = ctx.need_subject().image.user
    found = []
    try:
        for name in spec.services:
            user = str(cr.service(name).get("user") or image_user or "")
            found.append(f"{name}: {user or 'root (no USER, no user:)'}")
            if user.split(":")[0] in ("", "0", "root"):
                raise Failed(
                    f"service {name} runs as {user or 'root'}: " + "; ".join(found),
                    "run the pipeline as the image's non-root user; only a one-shot service that fixes ownership "
                    'may be `user: "0"`',
                )
    except ComposeProblem as e:
        raise _compose_failed(e) from None
    return "; ".join(found)


@check(ComposePortsLoopback)
def compose_ports_loopback(ctx: Context, spec: ComposePortsLoopback) -> str:
    cr = _compose_run(ctx, spec)
    try:
        services = cr.config().get("services") or {}
        cr.service(spec.service)
    except ComposeProblem as e:
        raise _compose_failed(e) from None
    wrong, api = [], []
    for name, svc in services.items():
        for p in svc.get("ports") or []:
            where = f"{p.get('host_ip') or '0.0.0.0'}:{p.get('published') or '(any)'}->{p.get('target')}"
            if name != spec.service:
                wrong.append(f"{name} publishes {where}: only {spec.service} needs to be reached from outside")
            elif p.get("host_ip") not in ("127.0.0.1", "::1"):
                wrong.append(f"{name} publishes {where} on every interface of the machine")
            else:
                api.append(where)
    if wrong:
        raise Failed(
            "\n".join(wrong),
            f'publish only {spec.service}, on the loopback interface: `ports: ["127.0.0.1::{spec.port}"]`; '
            "services reach each other by name without published ports",
        )
    if not any(w.endswith(f"->{spec.port}") for w in api):
        raise Failed(
            f"{spec.service} publishes no port {spec.port}",
            f'add `ports: ["127.0.0.1::{spec.port}"]` to {spec.service}',
        )
    return f"only {spec.service} publishes: {', '.join(api)}"


@records(ComposeUpPredicts)
def record(s: Subject, spec: ComposeUpPredicts, f: Fixture) -> None:
    """Start the solution's stack as grading does and keep what its service answers."""
    cr = ComposeRun(s, spec.file)
    try:
        up = cr.up(spec.wait_s)
        if not up.ok:
            raise RecordError(f"the solution's stack did not come up: {up.error}\n{cr.trouble()}")
        status, body = cr.get(spec.service, spec.port, spec.path)
    except ComposeProblem as e:
        raise RecordError(f"the solution's compose file: {e.detail}") from None
    if status != 200:
        raise RecordError(f"the solution's {spec.service} answered {status} to {spec.path}: {body[:200]}")
    cr.down()
    f.put(Answered(body=body))
