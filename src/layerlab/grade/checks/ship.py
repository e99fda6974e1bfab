"""Shipping (exercise 09): no token in the image, the pushed image is this build, OCI labels set."""

from __future__ import annotations

import re
import tempfile
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from pydantic import Field

from layerlab import engine
from layerlab.measure.inspector import short_instruction
from layerlab.measure.repro import FileDiff

from .. import files
from ..fixture import FIXTURE_NAME
from ..subject import Subject
from .base import Context, Failed, NotRun, check, redact
from .spec import CheckBase

if TYPE_CHECKING:
    from ..exercise import Exercise


OCI_SOURCE, OCI_VERSION = "org.opencontainers.image.source", "org.opencontainers.image.version"


class TokenAbsent(CheckBase):
    check: Literal["token_absent"]


class PushedImage(CheckBase):
    check: Literal["pushed_image"]
    file: str = Field(
        default="digest.txt",
        description="the file, in the exercise folder, that names the pushed image: localhost:5000/NAME@sha256:...",
    )

    def prepare(self, ctx: Context) -> None:
        # Grading plants its own token in the scratch copy; the pushed image was built from the folder
        # as it came, so keep a copy of that before any check runs.
        if ctx.submitted is not None and ctx.scratch is not None and HANDED_IN not in ctx.extras:
            ctx.extras[HANDED_IN] = ctx.scratch / "handed-in"
            files.copy(ctx.submitted, ctx.extras[HANDED_IN], FIXTURE_NAME)

    def hand_in(self, exercise: Exercise, solution: Path, dest: Path) -> Path | None:
        # The solution is graded the way a student's is: after shipping it.
        shipped = dest / exercise.id
        ship(exercise, solution, shipped, f"{exercise.id}-record:{uuid.uuid4().hex[:8]}")
        return shipped


TIMESTAMPS = {"mtime only", "pyc source mtime"}  # what a step that ran again changes, its files the same
HANDED_IN = ("pushed_image", "handed_in")  # ctx.extras: an untouched copy of the submission (token not replanted)


def ship(ex: Exercise, folder: Path, dest: Path, name: str) -> str:
    """What a student does before grading an exercise with a `pushed_image` check, done on a copy of `folder`:
    build it with its own token as the build secret, push it to the local registry as `name`, and write
    the pushed reference (`localhost:PORT/NAME@sha256:...`) to the check's file. Returns that reference."""
    from layerlab.engine import build as build_mod
    from layerlab.engine import pyindex, registry

    files.copy(folder, dest, FIXTURE_NAME)
    check = next(c for c in ex.checks if isinstance(c, PushedImage))
    sec = ex.secret
    tag = f"layerlab-ship-{ex.id}:{uuid.uuid4().hex[:8]}"
    with ExitStack() as stack:
        secrets = [f"id={sec.id},src={dest / sec.file}"] if sec else None
        build_args = None
        if sec and sec.index:
            # An index with the folder's token, of its own: a learner's `layerlab-pyindex` keeps running. It is
            # offered both ways, as the starter's notebook and the solution's build it (an unused argument is
            # no part of a build).
            token = (dest / sec.file).read_text(encoding="utf-8").strip()
            index = stack.enter_context(pyindex.serving(token, f"layerlab-pyindex-ship-{uuid.uuid4().hex[:8]}"))
            conf = index.write_pip_conf(token, Path(stack.enter_context(tempfile.TemporaryDirectory())) / "pip.conf")
            secrets = [f"id={sec.id},src={conf}"]
            build_args = index.build_args(token, sec.build_arg) if sec.build_arg else None
        built = build_mod.build(
            dest,
            tag,
            dockerfile=dest / ex.dockerfile,
            secrets=secrets,
            build_args=build_args,
            module=ex.module,
            show=None,
        )
    pushed_tag = f"{registry.address()}/{name}"
    try:
        registry.up_live(say=lambda line: None)
        pushed = registry.push_live(built.tag, name)
    finally:
        for t in (built.tag, pushed_tag):  # the registry keeps the image; the engine needs neither name
            if engine.require().image.exists(t):
                engine.require().image.remove(t, force=True)
    ref = f"{registry.address()}/{registry.split(pushed.ref)[0]}@{pushed.digest}"
    (dest / check.file).write_text(ref + "\n", encoding="utf-8")
    return ref


class OciLabels(CheckBase):
    check: Literal["oci_labels"]
    labels: list[str] = Field(
        default_factory=lambda: [OCI_SOURCE, OCI_VERSION],
        min_length=1,
        description="labels that must be set, non-empty, in the image's config",
    )


def index_hint(ex: Exercise, text: str) -> str | None:
    """Why a build or a run failed when it did not install from the private index (exercise.secret.index);
    None when `text` does not say so. A hint that names the cause, for the build log or the app's output."""
    sec = ex.secret
    if sec is None or not sec.index:
        return None
    mount = f"RUN --mount=type=secret,id={sec.id},target=/etc/pip.conf pip install --no-cache-dir"
    # pip says "No matching distribution" after a refused token too: the 401 is the cause to name first.
    if "401" in text and ("Unauthorized" in text or "Credentials not correct" in text):
        return (
            f"the private index refused the token: grading starts its own index with a fresh token, handed in "
            f"only as the secret `{sec.id}` (and the build argument {sec.build_arg}); a token or address written "
            f"into the Dockerfile is not it. {mount} ..."
        )
    for pkg in sec.index:
        said = (f"No module named '{pkg}'", f"No matching distribution found for {pkg}", f"requirement {pkg}")
        if any(s in text for s in said):
            return (
                f"{pkg} is served only by the course's private package index, which wants the token: install it "
                f"in a RUN that mounts the secret `{sec.id}` (a pip.conf) where pip reads its settings: "
                f"{mount} {pkg}"
            )
    return None


def _leak_hint(kinds: set[str], ex: Exercise | None = None) -> str:
    parts = []
    if kinds & {"history", "config"}:
        parts.append(
            "an ARG or ENV carries the token: ARG values show in the history of the RUNs that use them, "
            "ENV values in the config (and in the history); do not declare the token as ARG or ENV at all"
        )
    if "layer" in kinds:
        parts.append(
            "a file with the token was copied into a layer: deleting it in a later RUN only hides it, the "
            "earlier layer keeps it"
        )
    sec = ex.secret if ex is not None else None
    if sec is not None and sec.index:
        parts.append(
            f"mount the pip.conf for the one RUN that installs, where pip reads it: RUN --mount=type=secret,"
            f"id={sec.id},target=/etc/pip.conf pip install ...; nothing of it reaches the image (at "
            f"/run/secrets/{sec.id}, the default place, pip never reads it)"
        )
    else:
        parts.append(
            "mount the token for the one RUN that needs it: RUN --mount=type=secret,id=<id> ... reads "
            "/run/secrets/<id>, and nothing of it reaches the image"
        )
    return ";\n".join(parts)


@check(TokenAbsent)
def token_absent(ctx: Context, spec: TokenAbsent) -> str:
    from layerlab.measure import leaks

    s = ctx.need_subject()
    s.build()
    if not ctx.planted:
        raise NotRun("the exercise declares no `secret:` in course.yml, so no token was planted to look for")
    scan = leaks.scan_image_live(s.tag, ctx.planted)
    where = f"{scan.layers} layers ({scan.files} files), the history and the config"
    if scan.found:
        raise Failed(
            f"the build's token ({scan.token}) is in {len(scan.places)} place(s):\n"
            + "\n".join(p.line() for p in scan.places[:8]),
            _leak_hint(scan.kinds(), ctx.exercise),
        )
    return f"the build's token is nowhere in {where}"


def pushed_ref(ctx: Context, spec: PushedImage) -> tuple[str, str, str]:
    """(the reference written in the file, its repository name, its digest), or Failed."""
    from layerlab.engine import registry

    path = ctx.folder / spec.file
    how = (
        f"push the image to {registry.address()} and write what the push printed as "
        f"{registry.address()}/NAME@sha256:<digest> in {spec.file}"
    )
    if not path.is_file():
        raise Failed(f"no {spec.file} in the submission", how)
    text = path.read_text(encoding="utf-8", errors="replace").strip()
    ref = text.splitlines()[0].strip() if text else ""
    host, _, rest = ref.partition("/")
    name, at, digest = rest.partition("@")
    if host != registry.address() or not at or not digest.startswith("sha256:") or len(digest) != 71:
        raise Failed(
            f"{spec.file} reads {ref[:90]!r}, not {registry.address()}/NAME@sha256:<64 hex digits>",
            "a tag can move; a digest names one image. " + how,
        )
    return ref, name, digest


# BuildKit writes the build arguments a RUN saw before its command: `RUN |2 A=1 B=x /bin/sh -c ...`.
_RUN_ARGS = re.compile(r"^(RUN )?\|(\d+) ")


def _split_run_args(step: str) -> tuple[str, dict[str, str], str]:
    """A history step as (its start up to `|N `, the build arguments it records, the rest)."""
    m = _RUN_ARGS.match(step)
    if not m:
        return "", {}, step
    parts = step[m.end() :].split(" ", int(m.group(2)))
    pairs, rest = parts[:-1], parts[-1]
    return step[: m.end()], dict(p.split("=", 1) for p in pairs if "=" in p), rest


def run_args(step: str) -> dict[str, str]:
    """The build arguments a history step records (`|N K=V ...`); {} for a step without any."""
    return _split_run_args(step)[1]


def mask_run_args(step: str) -> str:
    """The step with its build arguments' values hidden: two builds given other values ran the same step."""
    start, args, rest = _split_run_args(step)
    return start + "".join(f"{k}=<arg> " for k in args) + rest if args else step


def _build_as_handed_in(ctx: Context, s: Subject, pushed_history: list[str]) -> str:
    """The tag of the submission built as the student built it: the folder as handed in, its own token.

    Grading's own build has a planted token (and files locked for it), so its layers differ by design.
    On the engine the student built and pushed from, BuildKit's cache serves every step: seconds. The
    build arguments are the ones the pushed image's own history records (a package index's address
    differs from run to run; a token there has failed the leak check before this runs).
    """
    sec = ctx.exercise.secret
    handed_in: Path | None = ctx.extras.get(HANDED_IN)
    if handed_in is None or sec is None:
        return s.tag
    session = s.session
    saved = session.secrets, session.build_args
    if not sec.index:
        session.secrets = [f"id={sec.id},src={handed_in / sec.file}"]
    # else: the pip.conf of grading's own index stays. A secret is no part of a step's cache key or of
    # its layer, so a build that keeps the token out of the image gets the student's layers either way.
    session.build_args = {k: v for step in pushed_history for k, v in run_args(step).items()}
    try:
        return session.build(
            handed_in, "handed-in", dockerfile=handed_in / ctx.exercise.dockerfile, timeout=s.limits.build_timeout_s
        ).tag
    except Exception as e:  # noqa: BLE001 - the main build worked, so this one failing is worth saying
        raise Failed(
            f"the folder as handed in (with its own token) does not build: {str(e).splitlines()[0][:160]}",
            "build and push from the folder you hand in",
        ) from None
    finally:
        session.secrets, session.build_args = saved


@check(PushedImage)
def pushed_image(ctx: Context, spec: PushedImage) -> str:
    from layerlab.engine import images, registry
    from layerlab.measure import leaks

    s = ctx.need_subject()
    s.build()
    ref, name, digest = pushed_ref(ctx, spec)
    if not (st := registry.status_live()).running:
        raise NotRun(
            f"no registry answers at {registry.address()} ({st.detail}): `layerlab registry up`, push, grade again"
        )
    try:
        served = registry.blobs_live(ref)
        config, _, _ = registry.fetch_blob(f"{registry.address()}/{name}", served.config)
    except registry.RegistryError as e:
        raise Failed(
            f"the registry does not serve {ref[:100]}: {str(e).splitlines()[0][:160]}",
            "push again and write the digest that this push reports (docker push prints it last)",
        ) from None
    if ctx.original:
        scan = leaks.scan_pushed_live(ref, ctx.original)
        if scan.found:
            raise Failed(
                f"the pushed image holds your token ({scan.token}) in {len(scan.places)} place(s):\n"
                + "\n".join(p.line() for p in scan.places[:8]),
                "the registry serves the leaky build: fix the Dockerfile, push again, write the new digest; "
                + _leak_hint(scan.kinds(), ctx.exercise),
            )

    def same(step: str) -> str:  # other tokens, or build arguments of other values: no difference alone
        step = mask_run_args(step)
        return (
            redact(ctx, step).replace(leaks.mask(ctx.planted), "<token>").replace(leaks.mask(ctx.original), "<token>")
            if ctx.planted
            else step
        )

    history = [h.get("created_by", "") for h in config.get("history", []) if not h.get("empty_layer")]
    pushed_steps = [same(step) for step in history]
    built_steps = [same(layer.created_by) for layer in s.image.layers]
    pushed_labels = (config.get("config") or {}).get("Labels") or {}
    if pushed_steps != built_steps:
        n = next(
            (i for i, (a, b) in enumerate(zip(pushed_steps, built_steps)) if a != b),
            min(len(pushed_steps), len(built_steps)),
        )
        theirs = short_instruction(pushed_steps[n], 60) if n < len(pushed_steps) else "(no more layers)"
        mine = short_instruction(built_steps[n], 60) if n < len(built_steps) else "(no more layers)"
        raise Failed(
            f"{ref[:80]}… is not this Dockerfile's image: layer {n + 1} of the pushed one was made by "
            f"`{theirs}`, of this build by `{mine}`",
            "build from the Dockerfile you hand in, push that image, and write its digest",
        )
    # Same steps can still hold other files (code edited after the push): compare the layers' content too.
    pushed_ids = (config.get("rootfs") or {}).get("diff_ids") or []
    built_tag = _build_as_handed_in(ctx, s, history)
    built_ids = images.diff_ids(built_tag)
    retimed: list[int] = []
    if pushed_ids != built_ids:
        n = next(
            (i for i, (a, b) in enumerate(zip(pushed_ids, built_ids)) if a != b), min(len(pushed_ids), len(built_ids))
        )
        step = short_instruction(built_steps[n], 60) if n < len(built_steps) else "(no more layers)"
        where = (
            f"{ref[:80]}… has this Dockerfile's steps but other content: layer {n + 1} (`{step}`) differs "
            f"({pushed_ids[n][:19] if n < len(pushed_ids) else 'none'}… pushed, "
            f"{built_ids[n][:19] if n < len(built_ids) else 'none'}… built from the folder handed in)"
        )
        hint = "build from the files you hand in, after their last change, push that image, and write its digest"
        if len(pushed_ids) != len(built_ids):
            raise Failed(where, hint)
        # A step the build cache no longer holds (its garbage collection, a prune) runs again and stamps
        # its files with the time of this build: other digests, the same files.
        differing = [i for i, (a, b) in enumerate(zip(pushed_ids, built_ids)) if a != b]
        for i, diffs in layer_changes(name, ref, built_tag, differing).items():
            real = [d for d in diffs if d.change not in TIMESTAMPS]
            if real:
                step = short_instruction(built_steps[i], 60) if i < len(built_steps) else "?"
                shown = ", ".join(f"{d.path} ({d.change})" for d in real[:4]) + (" …" if len(real) > 4 else "")
                raise Failed(
                    f"{ref[:80]}… has this Dockerfile's steps but other content: layer {i + 1} (`{step}`) "
                    f"differs from the folder handed in: {shown}",
                    hint,
                )
        retimed = [i + 1 for i in differing]
    missing = {
        k: v for k, v in s.image.labels.items() if k.startswith("org.opencontainers") and pushed_labels.get(k) != v
    }
    if missing:
        raise Failed(
            f"the pushed image's labels differ from this build's: {', '.join(sorted(missing))}",
            "push the image built from the Dockerfile you hand in, after its last change",
        )
    return (
        f"{registry.address()} serves {name}@{digest[:19]}…: {len(served.layers)} layers, "
        f"{served.total / 1e6:.1f} MB, the same layer content as this build"
        + (", without the token" if ctx.original else "")
        + (
            f" (layer(s) {', '.join(map(str, retimed))} ran again here, the build cache no longer holding them: "
            "the same files, other timestamps)"
            if retimed
            else ""
        )
    )


def layer_changes(name: str, ref: str, built_tag: str, indices: list[int]) -> dict[int, list[FileDiff]]:
    """For each layer index given, how the pushed layer's files differ from the local image `built_tag`'s."""
    from layerlab.engine import images, registry
    from layerlab.measure import oci, repro

    manifest, _ = registry.platform_manifest(ref)
    pushed = [layer["digest"] for layer in manifest.get("layers", [])]
    out: dict[int, list[FileDiff]] = {}
    with tempfile.TemporaryDirectory(prefix="layerlab-ship-") as tmp:
        with oci.Archive(images.save(built_tag, Path(tmp) / "built.tar")) as archive:
            found = archive.platforms()
            here = next((p for p in found if p.platform == engine.host_platform()), found[0])
            for i in indices:
                blob = registry.download_blob(name, pushed[i], Path(tmp) / f"pushed-{i}")
                with blob.open("rb") as raw:
                    out[i] = repro.layer_file_diffs(
                        i, oci.uncompressed(raw, pushed[i]), archive.layer_stream(here.layers[i])
                    )
    return out


_VERSION = re.compile(r"v?\d+(\.\d+)*([-+~][0-9A-Za-z.+~-]+)?|[0-9a-f]{7,40}")  # 1.0.0, v2.1-rc1, a commit
_SCP = re.compile(r"[\w.-]+@[\w.-]+:[\w./~-]+")  # git@host:org/repo.git


def label_problem(key: str, value: str) -> str | None:
    """Why `value` is no answer for the OCI label `key` (None: it is one). Labels the spec gives no form for pass when set."""
    value = value.strip()
    if not value:
        return "not set"
    if key == OCI_SOURCE:
        url = urlsplit(value)
        if not ((url.scheme in ("http", "https", "git", "ssh", "git+ssh") and url.netloc) or _SCP.fullmatch(value)):
            return f"{value!r} is no URL (the spec: the URL to get the image's source code, https://...)"
    if key == OCI_VERSION and not _VERSION.fullmatch(value):
        return f"{value!r} is no version (a release such as 1.0.0 or v2.1, or the commit it was built from)"
    return None


@check(OciLabels)
def oci_labels(ctx: Context, spec: OciLabels) -> str:
    image = ctx.need_subject().image
    problems = {k: p for k in spec.labels if (p := label_problem(k, image.labels.get(k) or ""))}
    if problems:
        unset = [k for k, p in problems.items() if p == "not set"]
        wrong = {k: p for k, p in problems.items() if p != "not set"}
        detail = "; ".join([f"not set: {', '.join(unset)}"] * bool(unset) + [f"{k}: {p}" for k, p in wrong.items()])
        hint = (
            (
                "add LABEL lines (or --label) that say where the image comes from: "
                + ", ".join(f'{k}="..."' for k in unset)
            )
            if unset
            else ""
        )
        if wrong:
            hint = (hint + "; " if hint else "") + (
                "a placeholder is no answer: set "
                + ", ".join(
                    "the repository's URL (https://...)"
                    if k == OCI_SOURCE
                    else "the version released (1.0.0) or the commit built"
                    if k == OCI_VERSION
                    else k
                    for k in wrong
                )
            )
        raise Failed(detail, hint)
    return "; ".join(f"{k}={image.labels[k]}" for k in spec.labels)
