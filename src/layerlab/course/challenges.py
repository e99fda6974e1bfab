"""`layerlab.check(challenge_id, answer, ...)`: the quick automatic check of a lesson's challenge.

Not the grader: one or two measurements that tell a learner whether the
attempt does what the task asks, in a few seconds to a minute. A check never
raises (a headless run with no answer must go on): it returns an Outcome that
says passed, not yet (and why), or no answer yet.
"""

from __future__ import annotations

import html
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from layerlab import course as C
from layerlab.engine import catalogue

# The learners' Dockerfiles in these challenges name the official slim base themselves, whatever base the lessons use.
SLIM = catalogue.PYTHON_SLIM.ref

if TYPE_CHECKING:
    from layerlab.engine.build import BuildResult
    from layerlab.engine.containers import RunResult
    from layerlab.measure.inspector import ImageReport


@dataclass
class Outcome:
    challenge: str
    passed: bool | None  # None: no answer yet
    lines: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        head = {True: "passed", False: "not yet", None: "no answer yet"}[self.passed]
        return "\n".join([f"check {self.challenge}: {head}"] + [f"  {line}" for line in self.lines])

    def __str__(self) -> str:
        return self.text

    def _repr_mimebundle_(self, include=None, exclude=None):
        mark = {True: "✅", False: "❌", None: "…"}[self.passed]
        body = "<br>".join(html.escape(line) for line in self.lines)
        return {
            "text/plain": self.text,
            "text/html": f"<p>{mark} <b>{html.escape(self.text.splitlines()[0])}</b><br>{body}</p>",
        }


CheckFn = Callable[..., Outcome]
CHECKS: dict[str, CheckFn] = {}


def _register(cid: str) -> Callable[[CheckFn], CheckFn]:
    def wrap(fn: CheckFn) -> CheckFn:
        CHECKS[cid] = fn
        return fn

    return wrap


def check(challenge_id: str, answer: Any = None, **context: Any) -> Outcome:
    """Check a challenge's answer. `answer` None: nothing to check yet (what a headless run sees)."""
    C.load().challenge(challenge_id)  # an unknown id fails loudly: a typo in the lesson
    if answer is None:
        return Outcome(challenge_id, None, ["fill in the cell above, run it, then run this check again"])
    try:
        return CHECKS[challenge_id](answer, **context)
    except Exception as e:  # a check must never stop the lesson
        return Outcome(
            challenge_id,
            False,
            [f"the check could not run: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"],
        )


def _verdict(cid: str, tests: list[tuple[bool, str]]) -> Outcome:
    return Outcome(cid, all(ok for ok, _ in tests), [("ok    " if ok else "FIX   ") + line for ok, line in tests])


def _build_text(dockerfile: str, tag: str, module: str, context: Path | None = None) -> tuple[BuildResult, ImageReport]:
    """Build a Dockerfile given as text (in `context`, or an empty folder) and inspect the image."""
    from layerlab.engine import build
    from layerlab.measure import inspector

    with tempfile.TemporaryDirectory(prefix="layerlab-challenge-") as tmp:
        df = Path(tmp) / "Dockerfile"
        df.write_text(dockerfile, encoding="utf-8")
        r = build.build(context or tmp, tag, dockerfile=df, module=module, show=None)
    return r, inspector.inspect(r.tag)


# --- 00 ---------------------------------------------------------------------


@_register("00-arm64-python")
def _foreign_python(answer: Any) -> Outcome:
    # The id keeps its first name; the task is the engine's foreign platform (linux/arm64 on a PC,
    # linux/amd64 on Apple silicon).
    from layerlab.engine import platforms

    foreign = platforms.current().foreign
    out = (answer.output or "").strip()
    return _verdict(
        "00-arm64-python",
        [
            (
                answer.platform == foreign,
                f"platform of the run: {answer.platform or 'the host default'} (the task: {foreign}, the foreign one)",
            ),
            (answer.ok, f"exit code {answer.exit_code}"),
            (
                out.startswith("Python 3.13"),
                f"it printed {out[:60]!r} (the task: the Python version, `python --version`)",
            ),
        ],
    )


# --- 01 ---------------------------------------------------------------------


@_register("01-smallest-limit")
def _smallest_limit(answer: Any, program: str) -> Outcome:
    from layerlab.engine import containers

    mib = int(answer)
    if mib % 16 or mib < 32:
        return Outcome("01-smallest-limit", False, [f"{mib} MiB: give a multiple of 16, at least 32"])
    at = containers.run(SLIM, ["python", "-c", program], memory=f"{mib}m", module="01", timeout=60)
    below = containers.run(SLIM, ["python", "-c", program], memory=f"{mib - 32}m", module="01", timeout=60)

    def works(r: RunResult) -> bool:
        return r.ok and r.output.strip().endswith("done")

    # Exit 137 is the kill, whether or not the engine also sets its OOM flag (a nested engine may not).
    return _verdict(
        "01-smallest-limit",
        [
            (works(at), f"with {mib} MiB: exit {at.exit_code}, OOM killed {at.oom_killed}"),
            (
                not works(below),
                f"with {mib - 32} MiB: exit {below.exit_code}, OOM killed {below.oom_killed} "
                "(your limit must be the smallest that works, to 16 MiB)",
            ),
        ],
    )


# --- 02 ---------------------------------------------------------------------


@_register("02-lean-git")
def _lean_git(answer: str) -> Outcome:
    from layerlab.measure import inspector

    r, img = _build_text(answer, "layerlab/02-challenge-git:lesson", "02")
    base = inspector.inspect(SLIM)
    wasted = img.wasted_bytes - base.wasted_bytes
    return _verdict(
        "02-lean-git",
        [
            (
                img.has("/usr/bin/git"),
                "git is installed" if img.has("/usr/bin/git") else "no /usr/bin/git in the image",
            ),
            (
                not img.has("/usr/bin/ssh"),
                "no ssh client (a package git only recommends)"
                if not img.has("/usr/bin/ssh")
                else "/usr/bin/ssh is there: recommended packages came along",
            ),
            (
                not img.find("/var/lib/apt/lists/*Packages*"),
                "apt's package lists are not in the image"
                if not img.find("/var/lib/apt/lists/*Packages*")
                else "apt's package lists are in the image",
            ),
            (wasted <= 1e6, f"{wasted / 1e6:.1f} MB wasted above the base (at most 1 MB)"),
            (True, f"the image adds {(img.size_bytes - base.size_bytes) / 1e6:.1f} MB to {SLIM}"),
        ],
    )


# --- 03 ---------------------------------------------------------------------


@_register("03-dockerignore")
def _dockerignore(answer: str, workspace: Path) -> Outcome:
    from layerlab.engine import build
    from layerlab.measure import inspector

    ws = Path(workspace)
    (ws / ".dockerignore").write_text(answer, encoding="utf-8")
    r = build.build(ws, "layerlab/03-challenge-ignore:lesson", module="03", show=None)
    img = inspector.inspect(r.tag)
    leaked = [p for p in ("/app/data", "/app/.venv", "/app/.git") if img.find(p + "/*")]
    return _verdict(
        "03-dockerignore",
        [
            (
                (r.context_bytes or 0) < 100_000,
                f"context sent to the builder: {(r.context_bytes or 0) / 1e3:.1f} kB (at most 100 kB)",
            ),
            (
                not leaked,
                "no data, .venv or .git in the image" if not leaked else f"still in the image: {', '.join(leaked)}",
            ),
            (
                img.has("/app/predict.py"),
                "the app's code is in the image"
                if img.has("/app/predict.py")
                else "/app/predict.py is missing: the .dockerignore excludes the code too",
            ),
        ],
    )


# --- 04 ---------------------------------------------------------------------


@_register("04-non-root")
def _non_root(answer: str, context: Path, expected_output: str) -> Outcome:
    from layerlab.engine import containers

    r, img = _build_text(answer, "layerlab/04-challenge-user:lesson", "04", context=Path(context))
    uid = containers.run(r.tag, ["id", "-u"], module="04")
    out = containers.run(r.tag, module="04")
    uid_text = uid.output.strip()
    return _verdict(
        "04-non-root",
        [
            (img.user not in ("", "root", "0"), f"USER in the image's config: {img.user or 'not set (root)'}"),
            (
                uid.ok and uid_text.isdigit() and int(uid_text) != 0,
                f"id -u in the container: {uid_text or uid.exit_code}",
            ),
            (
                not img.has("/usr/bin/gcc"),
                "no gcc in the image" if not img.has("/usr/bin/gcc") else "gcc is still in the image",
            ),
            (
                out.ok and out.output == expected_output,
                "the app prints what the lesson's images print"
                if out.ok and out.output == expected_output
                else f"the app printed {out.output.strip()[:80]!r} (exit {out.exit_code})",
            ),
        ],
    )


# --- 05 ---------------------------------------------------------------------


@_register("05-arm64-digest")
def _arm64_digest(answer: str, ref: str) -> Outcome:
    from layerlab.engine import registry

    digest = str(answer).strip()
    if not digest.startswith("sha256:"):
        return _verdict(
            "05-arm64-digest", [(False, f"{digest[:40]!r} is not a digest (they look like sha256:<64 hex digits>)")]
        )
    name, _ = registry.split(ref)
    manifest, _, media = registry.fetch(f"{registry.address()}/{name}@{digest}")
    tests = [
        (
            media in registry.MANIFEST_TYPES,
            f"the registry holds {digest[:19]}… as {media or 'nothing'}"
            + ("" if media in registry.MANIFEST_TYPES else " (an index lists manifests; pick one entry in it)"),
        )
    ]
    if media in registry.MANIFEST_TYPES:
        config, _, _ = registry.fetch_blob(f"{registry.address()}/{name}", manifest["config"]["digest"])
        arch = f"{config.get('os', '?')}/{config.get('architecture', '?')}"
        tests.append(
            (
                arch == "linux/arm64",
                f"its image is built for {arch}"
                + ("" if arch != "unknown/unknown" else " (an attestation manifest, not an image)"),
            )
        )
    return _verdict("05-arm64-digest", tests)


# --- 07 ---------------------------------------------------------------------


@_register("07-exec-shell")
def _exec_shell(answer: str) -> Outcome:
    from layerlab import engine
    from layerlab.engine import build
    from layerlab.measure import serving

    with tempfile.TemporaryDirectory(prefix="layerlab-challenge-") as tmp:
        (Path(tmp) / "Dockerfile").write_text(answer, encoding="utf-8")
        r = build.build(tmp, "layerlab/07-challenge-shell:lesson", module="07", show=None)
    # Only the CMD and the environment are read: the engine's own inspect, not a layer-by-layer report.
    config = engine.client().image.inspect(r.tag).config
    cmd, env = config.cmd or [], config.env or []
    shell_form = cmd[:2] == ["/bin/sh", "-c"]
    text = cmd[2] if shell_form and len(cmd) > 2 else " ".join(cmd)
    reads_port = "$PORT" in text or "${PORT" in text
    # The better answer needs no shell: uvicorn reads its port from UVICORN_PORT (an exec-form CMD
    # without --port, which would override it), so `docker run -e UVICORN_PORT=...` moves it.
    uvicorn_env = not shell_form and any(e.startswith("UVICORN_PORT=") for e in env) and "--port" not in cmd
    # Grace 3 s: a stop that ignores SIGTERM fails in 3 s instead of 10.
    ran = serving.serve_live(r.tag, inflight="/slow?seconds=0.5", stop_grace_s=3, wait_s=30, module="07")
    return _verdict(
        "07-exec-shell",
        [
            (
                shell_form or uvicorn_env,
                f"CMD is shell form: {cmd}"
                if shell_form
                else f"CMD is exec form and uvicorn reads its port from UVICORN_PORT (no shell needed): {cmd}"
                if uvicorn_env
                else f"CMD is exec form with no port from the environment: {cmd} (read $PORT in a shell form, or set UVICORN_PORT)",
            ),
            (
                reads_port or uvicorn_env,
                "the command reads $PORT"
                if reads_port
                else "the port comes from UVICORN_PORT"
                if uvicorn_env
                else "the command does not read $PORT",
            ),
            (
                ran.serving,
                f"serves /health after {ran.first_ok_s:.2f} s"
                if ran.serving
                else f"never answered /health: {ran.error or ran.logs.splitlines()[-1:] or 'no log'}",
            ),
            (ran.stop_s is not None and ran.stop_s < 2, f"docker stop took {ran.stop_s or 0:.2f} s (under 2 s)"),
            (
                ran.inflight_answered,
                "the request in flight was answered"
                if ran.inflight_answered
                else f"the request in flight was lost: {ran.inflight.error if ran.inflight else 'not sent'}",
            ),
        ],
    )


# --- 08 ---------------------------------------------------------------------


@_register("08-api-url")
def _api_url(answer: str) -> Outcome:
    import urllib.request
    from urllib.parse import urlparse

    url = urlparse(str(answer).strip().rstrip("/"))
    tests = [
        (
            url.scheme == "http" and url.hostname == "127.0.0.1" and bool(url.port),
            f"{answer!r} names http://127.0.0.1:<port>"
            if url.hostname == "127.0.0.1"
            else f"{answer!r}: the API publishes on 127.0.0.1 only, with the port the engine chose",
        )
    ]
    if tests[0][0]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{url.port}/health", timeout=3) as r:
                tests.append((r.status == 200, f"GET /health there answered {r.status}"))
        except OSError as e:
            tests.append((False, f"nothing answers /health there ({e}); is the stack up?"))
    return _verdict("08-api-url", tests)


# --- 09 ---------------------------------------------------------------------


@_register("09-no-leak")
def _no_leak(answer: str, context: Path, token: str, expected_output: str) -> Outcome:
    from layerlab.engine import build, containers
    from layerlab.measure import leaks

    context = Path(context)
    with tempfile.TemporaryDirectory(prefix="layerlab-challenge-") as tmp:
        df = Path(tmp) / "Dockerfile"
        df.write_text(answer, encoding="utf-8")
        r = build.build(
            context,
            "layerlab/09-challenge-no-leak:lesson",
            dockerfile=df,
            module="09",
            show=None,
            secrets=[f"id=unlock_token,src={context / 'unlock.token'}"],
        )
    out = containers.run(r.tag, module="09")
    scan = leaks.scan_image(r.tag, token)
    return _verdict(
        "09-no-leak",
        [
            ("--mount=type=secret" in answer and "id=unlock_token" in answer, "a RUN mounts the secret unlock_token"),
            (
                out.ok and out.output == expected_output,
                "the image prints what the lesson's images print"
                if out.ok and out.output == expected_output
                else f"the image printed {out.output.strip()[:80]!r} (exit {out.exit_code})",
            ),
            (
                not scan.found,
                "the token is in no layer, history entry or config"
                if not scan.found
                else "the token is still in the image:\n      " + "\n      ".join(p.line() for p in scan.places),
            ),
        ],
    )


# --- 06 ---------------------------------------------------------------------


@_register("06-biggest-twin")
def _biggest_twin(answer: str, tag: str) -> Outcome:
    from layerlab.measure import cuda, inspector

    twice = cuda.duplicates(inspector.inspect(tag)).twice
    name = str(answer).strip()
    if not twice:
        return _verdict(
            "06-biggest-twin", [(False, f"{tag} holds no CUDA library twice: build the wheel images first")]
        )
    biggest = max(twice, key=lambda k: twice[k])
    # Only the count: listing the sonames would all but give the answer away.
    tests = [
        (
            name in twice,
            f"{name!r} is {'one' if name in twice else 'not one'} of the {len(twice)} sonames shipped twice",
        )
    ]
    if name in twice:
        tests.append(
            (
                name == biggest,
                f"{name} is shipped twice with {twice[name] / 1e6:.0f} MB"
                + ("" if name == biggest else f"; one library has more ({twice[biggest] / 1e6:.0f} MB)"),
            )
        )
    return _verdict("06-biggest-twin", tests)


# --- 10 ---------------------------------------------------------------------

# The challenge's loader: 3 workers x 2 batches x 24 MiB in /dev/shm at once.
SHM_LOADER = ["python", "loader.py", "3", "2", "24"]
SHM_SLACK_MIB = 32


@_register("10-shm-size")
def _shm_size(answer: str, image: str) -> Outcome:
    from layerlab.engine import containers
    from layerlab.measure import shm

    text = str(answer).strip().lower()
    mib = int(text[:-1]) if text.endswith("m") and text[:-1].isdigit() else None
    if mib is None:
        return _verdict("10-shm-size", [(False, f"{answer!r} is not a size in MiB such as '96m'")])
    run = shm.read(f"--shm-size={text}", containers.run(image, SHM_LOADER, module="10", shm_size=text))
    need = (run.needed_bytes or 0) / 2**20
    return _verdict(
        "10-shm-size",
        [
            (run.ok, "the loader runs" if run.ok else f"the loader fails: {run.error}"),
            (
                bool(need) and mib <= need + SHM_SLACK_MIB,
                f"{mib} MiB is within {SHM_SLACK_MIB} MiB of the {need:.0f} MiB it holds at once"
                if mib <= need + SHM_SLACK_MIB
                else f"{mib} MiB is more than {SHM_SLACK_MIB} MiB above the {need:.0f} MiB it needs: smaller",
            ),
        ],
    )
