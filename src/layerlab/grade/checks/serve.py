"""A model server (exercise 07): healthy in time, the solution's answers, a graceful stop, hardened, no reloader. One container serves all."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from layerlab.measure.serving import ServeResult

from ..fixture import Fixture, Section
from ..subject import Subject
from .base import Context, Failed, NotRun, RecordError, check, excerpt, non_root_user, records
from .spec import CheckBase


class ServeCheck(CheckBase):
    """A check that starts the image as a server on 127.0.0.1 (exercise 07); one container serves all of them."""

    port: int = Field(default=8000, gt=0, lt=65536, description="the port the server listens on in the container")
    health_path: str = "/health"
    wait_s: float = Field(
        gt=0, le=120, default=60, description="how long the server may take to answer and to become healthy"
    )


class BecomesHealthy(ServeCheck):
    check: Literal["becomes_healthy"]
    factor: float = Field(
        gt=0, default=2.0, description="healthy at most factor x the fixture's seconds from docker run ..."
    )
    allowance_s: float = Field(ge=0, default=5.0, description="... plus this many seconds (a shared machine's noise)")


class Predicts(ServeCheck):
    check: Literal["predicts"]
    path: str = "/predict"
    body: dict = Field(description="the JSON posted; the answer must equal the fixture's (numbers to 1e-6)")


class GracefulStop(ServeCheck):
    check: Literal["graceful_stop"]
    within_s: float = Field(gt=0, default=2.0, description="docker stop must return within this many seconds")
    inflight_path: str = Field(description="a GET that is in flight when docker stop is sent; it must be answered")


class HardenedServes(ServeCheck):
    check: Literal["hardened_serves"]
    tmpfs: list[str] = Field(default_factory=lambda: ["/tmp"], description="the only writable paths under --read-only")


class NoReloader(ServeCheck):
    check: Literal["no_reloader"]


class ReadyMeansReady(ServeCheck):
    check: Literal["ready_means_ready"]
    path: str = "/predict"
    body: dict = Field(description="the JSON posted the moment the health path first answers 200; it must answer 200")


class Served(Section):
    """The solution served once: seconds to its first answer, to healthy, to stop; its answers by path."""

    name = "serve"
    first_ok_s: float | None
    healthy_s: float
    stop_s: float | None
    predictions: dict[str, Any] = Field(default_factory=dict)


def served(s: Subject, hardened: bool = False) -> ServeResult:
    """The image served once for every serving check of the exercise (`hardened`: --read-only and a tmpfs too).

    One container answers all the checks: health and first answer, each `predicts` body,
    and a timed stop with the `graceful_stop` request in flight.
    """

    def serve() -> ServeResult:
        specs = [c for c in s.exercise.checks if isinstance(c, ServeCheck)]
        first = specs[0]
        kw: dict = dict(
            port=first.port,
            health_path=first.health_path,
            wait_s=max(c.wait_s for c in specs),
            processes=any(isinstance(c, NoReloader) for c in specs),
            requests={c.path: ["POST", c.path, c.body] for c in specs if isinstance(c, Predicts)},
            ready_probe=next((["POST", c.path, c.body] for c in specs if isinstance(c, ReadyMeansReady)), None),
        )
        stop = next((c for c in specs if isinstance(c, GracefulStop)), None)
        if hardened:
            tmpfs = next((c.tmpfs for c in specs if isinstance(c, HardenedServes)), ["/tmp"])
            kw.update(read_only=True, tmpfs=tmpfs, execs={"uid": ["id", "-u"]}, stop_grace_s=1)
        elif stop is not None:
            # A grace just above the limit: a server that ignores SIGTERM fails in seconds, not Docker's 10.
            kw.update(inflight=stop.inflight_path, stop_grace_s=int(stop.within_s) + 1)
        return s.session.serve(s.tag, **kw)

    return s.once(("serve", hardened), serve)


_LISTEN_HINT = (
    "the server must listen on 0.0.0.0 (not 127.0.0.1, which is the container's own loopback) "
    "and on the port the exercise names, and keep running"
)


def _served(ctx: Context, hardened: bool = False) -> ServeResult:
    """The submission served once (shared by the serving checks), or Failed when it never answered."""
    s = ctx.need_subject()
    s.build()
    r = served(s, hardened)
    spec = next(c for c in ctx.exercise.checks if isinstance(c, ServeCheck))
    how = " under --read-only and --cap-drop ALL" if hardened else ""
    if r.error:
        raise Failed(f"the container did not start{how}: {r.error}", r.hint or "check USER, ENTRYPOINT and CMD")
    if not r.serving:
        if r.exited:
            detail = f"the container exited{how} with code {r.exit_code} before it answered {spec.health_path}"
            hint = (
                "under --read-only the app may write only to the tmpfs; read the last log lines for the path "
                "it tried (`Read-only file system`)"
                if hardened
                else "the server crashed at start: read its last log lines"
            )
        elif r.unhealthy_s is not None:
            detail = (
                f"the engine reported the container unhealthy after {r.unhealthy_s:.1f} s{how} (its HEALTHCHECK "
                f"failed every retry) and nothing had answered GET {spec.health_path} on port {spec.port}"
            )
            hint = _LISTEN_HINT + "; run the HEALTHCHECK command by hand (docker exec) to see why it fails"
        else:
            detail = f"nothing answered GET {spec.health_path} on port {spec.port}{how} within {spec.wait_s:.0f} s"
            hint = _LISTEN_HINT
        raise Failed(
            detail
            + (f"\nlast log lines:\n{excerpt(r.logs)}" if r.logs.strip() else "\n(the container logged nothing)"),
            hint,
        )
    return r


@check(BecomesHealthy)
def becomes_healthy(ctx: Context, spec: BecomesHealthy) -> str:
    fx = ctx.need_fixture().section(Served)
    if fx is None:
        raise NotRun(f"the fixture has no start-up measurement: run `layerlab record {ctx.exercise.id}`")
    s = ctx.need_subject()
    s.build()
    r = served(s)
    if r.started and not r.has_healthcheck:
        # Read from the image's configuration: no need to wait for a state that never comes.
        raise Failed(
            "the image has no HEALTHCHECK, so the engine never reports it healthy",
            "add a HEALTHCHECK that asks the app itself, in Python (the slim image has no curl): "
            'HEALTHCHECK --interval=1s CMD ["python", "-c", "import urllib.request; urllib.request.urlopen(...)"]',
        )
    r = _served(ctx)
    allowed = fx.healthy_s * spec.factor + spec.allowance_s
    if r.healthy_s is None:
        when = (
            f"the engine reported it unhealthy after {r.unhealthy_s:.1f} s"
            if r.unhealthy_s is not None
            else f"the engine's health state was still {r.health!r} after {spec.wait_s:.0f} s"
        )
        raise Failed(
            f"it answered after {r.first_ok_s:.1f} s, but {when}",
            "the HEALTHCHECK command fails inside the container: run it by hand (docker exec) - "
            "a curl check on a slim image fails forever, and a long --interval (Docker's default is 30 s) waits",
        )
    detail = (
        f"answered after {r.first_ok_s:.1f} s, healthy after {r.healthy_s:.1f} s "
        f"(at most {allowed:.1f} s: the reference's {fx.healthy_s:.1f} s x {spec.factor:g} + {spec.allowance_s:g} s)"
    )
    if r.healthy_s > allowed:
        raise Failed(detail, "the health check runs too rarely: shorten --interval (Docker's default is 30 s)")
    return detail


def _same(a: Any, b: Any, tol: float = 1e-6) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return abs(a - b) <= tol
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y, tol) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k], tol) for k in a)
    return a == b


@check(Predicts)
def predicts(ctx: Context, spec: Predicts) -> str:
    recorded = ctx.need_fixture().section(Served)
    want = recorded.predictions if recorded else {}
    if spec.path not in want:
        raise NotRun(f"the fixture has no answer for POST {spec.path}: run `layerlab record {ctx.exercise.id}`")
    got = _served(ctx).responses.get(spec.path)
    if got is None or got.status != 200:
        said = f"{got.status} {got.error or str(got.body)[:200]}" if got else "nothing"
        raise Failed(
            f"POST {spec.path} answered {said}", "the route or its input changed: keep serve.py and model.json as given"
        )
    if not _same(got.body, want[spec.path]):
        raise Failed(
            f"POST {spec.path} answered {str(got.body)[:200]}, not the reference's answer",
            "the image serves another model or code: copy serve.py and model.json as given",
        )
    n = len(spec.body.get("rows", [])) or 1
    return f"POST {spec.path} with {n} row(s) answers what the reference answers"


@check(GracefulStop)
def graceful_stop(ctx: Context, spec: GracefulStop) -> str:
    r = _served(ctx)
    grace = int(spec.within_s) + 1
    fate = r.inflight
    killed = "9" in r.stop_signals or r.stop_exit_code == 137
    detail = (
        f"docker stop took {r.stop_s:.1f} s from SIGTERM to exit (at most {spec.within_s:g} s), "
        f"exit code {r.stop_exit_code}"
    )
    if r.stop_s is None or r.stop_s > spec.within_s or killed:
        cmd = ctx.need_subject().image.cmd or []
        shell = cmd[:2] == ["/bin/sh", "-c"]
        raise Failed(
            detail + (f"; the engine killed it (SIGKILL) after a {grace} s grace period" if killed else ""),
            (
                "CMD is in shell form, so /bin/sh is PID 1 and SIGTERM never reaches the server: "
                "write CMD as a JSON list (exec form), or start the shell command with exec"
            )
            if shell
            else "PID 1 ignores SIGTERM: make the server itself PID 1 (exec-form CMD) or add an init that forwards signals",
        )
    if fate is None or fate.status != 200:
        raise Failed(
            detail
            + f"; the request in flight (GET {spec.inflight_path}) was lost: {(fate.error or fate.status) if fate else 'not sent'}",
            "the server was killed instead of shutting down: a shell between an init and the server dies at once "
            "and takes it down; make the server PID 1 (exec form) so it finishes requests on SIGTERM",
        )
    return detail + f"; the request in flight answered {fate.status}"


@check(HardenedServes)
def hardened_serves(ctx: Context, spec: HardenedServes) -> str:
    s = ctx.need_subject()
    user = non_root_user(s, "add USER with a numeric uid (USER 10001) after the steps that need root")
    r = _served(ctx, hardened=True)
    uid = r.execs["uid"].output.strip() if "uid" in r.execs else ""
    if uid == "0":
        raise Failed(f"USER {user} runs with uid 0", "that user is root under another name; use an ordinary uid")
    bad = {k: v for k, v in r.responses.items() if v.status != 200}
    if bad:
        path, v = next(iter(bad.items()))
        raise Failed(
            f"under --read-only POST {path} answered {v.status} {v.error}\n{excerpt(r.logs)}",
            "a request writes to the read-only filesystem: write only under " + ", ".join(spec.tmpfs),
        )
    return (
        f"uid {uid or '?'}; serves under --read-only (tmpfs {', '.join(spec.tmpfs)}) and --cap-drop ALL, "
        f"answered after {r.first_ok_s:.1f} s"
    )


# What sits between the engine and the server without being one: an init, a shell that did not exec.
_WRAPPERS = ("docker-init", "tini", "dumb-init", "catatonit", "sh", "bash", "dash", "ash")
_RELOAD_HINT = (
    "a development server with a reloader runs: a supervisor that watches the files and restarts a "
    "child server on each change (`uvicorn --reload`, UVICORN_RELOAD, `flask run --debug`, "
    "`fastapi dev`); drop it: start `uvicorn serve:app --host 0.0.0.0` with no --reload"
)


def _program(args: str) -> str:
    first = args.split()[0] if args.split() else ""
    return first.rsplit("/", 1)[-1]


def server_tree(main_pid: int, processes: list) -> tuple[Any, list]:
    """The server process (below any init or shell that wraps it alone) and its child processes,
    multiprocessing's resource tracker left out.

    `processes` is the engine's list (host pids); a `docker exec` (the health check) hangs
    off the runtime, not off the container's first process, so it is no child of the server.
    """
    by_pid = {p.pid: p for p in processes}
    root = by_pid.get(main_pid)
    while root is not None:
        # multiprocessing's resource tracker is a helper, not a server: every spawning parent has one.
        children = [p for p in processes if p.ppid == root.pid and "multiprocessing.resource_tracker" not in p.args]
        if _program(root.args) in _WRAPPERS and len(children) == 1:
            root = children[0]
            continue
        return root, children
    return None, []


@check(NoReloader)
def no_reloader(ctx: Context, spec: NoReloader) -> str:
    r = _served(ctx)
    if r.processes is None or r.main_pid is None:
        raise NotRun("the engine did not list the container's processes (docker top)")
    server, children = server_tree(r.main_pid, r.processes)
    if server is None:
        raise NotRun("the container's first process was not in the engine's process list")
    listed = "\n".join(f"| {p.args[:120]}" for p in [server, *children])
    if "--reload" in server.args.split() or any("--reload" in c.args.split() for c in children):
        raise Failed(f"the server runs with --reload:\n{listed}", _RELOAD_HINT)
    if len(children) == 1:
        # uvicorn's reloader (and watchfiles') is a parent that spawns one server and restarts it;
        # --workers N spawns N >= 2 under a manager, a single server spawns none.
        raise Failed(f"the server is a supervisor with one child process (a reloader's shape):\n{listed}", _RELOAD_HINT)
    shape = f"one server process with {len(children)} workers" if children else "one server process"
    return f"{shape}, no reloader: {server.args[:100]}"


@check(ReadyMeansReady)
def ready_means_ready(ctx: Context, spec: ReadyMeansReady) -> str:
    r = _served(ctx)
    got = r.at_first_ok
    if got is None:
        raise NotRun(f"no request was sent when GET {spec.health_path} first answered")
    if got.status != 200:
        said = f"{got.status} {str(got.body)[:160]}" if got.status else f"nothing ({got.error})"
        raise Failed(
            f"GET {spec.health_path} answered 200 after {r.first_ok_s:.1f} s, but POST {spec.path} sent at that "
            f"moment answered {said}",
            f"{spec.health_path} says ready before the app can answer: an orchestrator sends traffic from then on. "
            f"Answer 503 from {spec.health_path} until the model is loaded (or load it before the lifespan yields)",
        )
    return (
        f"GET {spec.health_path} first answered 200 after {r.first_ok_s:.1f} s; POST {spec.path} sent at that moment "
        f"answered 200 in {got.seconds:.2f} s"
    )


@records(BecomesHealthy, Predicts, GracefulStop, HardenedServes)
def record(s: Subject, spec: ServeCheck, f: Fixture) -> None:
    if f.section(Served) is not None:
        return  # one container served every serving check
    r = served(s)
    if not r.serving or r.healthy_s is None:
        raise RecordError(f"the solution did not serve and become healthy: {r.error or r.health}\n{r.logs}")
    f.put(
        Served(
            first_ok_s=r.first_ok_s,
            healthy_s=r.healthy_s,
            stop_s=r.stop_s,
            predictions={k: v.body for k, v in r.responses.items()},
        )
    )
