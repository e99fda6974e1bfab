"""The autograder bundle: everything that grades a class, in one file pinned by its digest.

`layerlab release --autograder FILE` writes a tar.gz holding

    manifest.json           {format, course_version, exercises, files: {path: sha256}}
    course.yml              the instructor's, as it is: the checks, limits and needs
    fixtures/<id>.json      what the reference solution measured
    hidden/<id>.yml         the hidden checks, for an exercise that has some
    starters/<id>/...       the exercise folder as students get it (a check that compares
                            with the starter, 05's cross-build baseline, reads it here)

written deterministically (sorted names, fixed times, owners and modes, a gzip
header with no name or time), so the same course gives the same bytes, and the
file's digest (`sha256:<hex>`) names it. `layerlab grade PATH --autograder
FILE@sha256:<hex>` refuses any other file; without the digest the manifest's
hashes still catch a damaged or hand-edited member.

Grading with it (`grade_with`) reads the checks, the fixture, the hidden checks
and the starter from the bundle alone. What the submission's folder or repository
holds of them is compared with the bundle's and flagged when it differs
(`tamper`), never used.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Final, Literal

from pydantic import ValidationError

from layerlab import __version__
from layerlab import course as C
from layerlab.course import Strict
from layerlab.engine.build import Show
from layerlab.ground.errors import LayerlabError

from . import exercise as exercise_mod
from . import fixture as fx_mod
from . import hidden as hidden_mod
from . import release, runner, tamper
from .checks.spec import CheckBase
from .report import Report

FORMAT: Final = "layerlab-autograder/1"
MTIME = 315532800  # 1980-01-01: a fixed time for every member (zip's epoch; some tools refuse 1970)
MAX_BYTES = 64 * 2**20  # all members together, unpacked: a bundle is text; more is no bundle of ours
_MEMBER = re.compile(
    r"^(manifest\.json|course\.yml|fixtures/(?P<fx>[^/]+)\.json|hidden/(?P<hid>[^/]+)\.yml|starters/(?P<st>[^/]+)/.+)$"
)
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


class BundleError(LayerlabError):
    """An autograder bundle that cannot be made or used; the message says what to do."""


class DigestMismatch(BundleError):
    def __init__(self, path: Path, expected: str, actual: str):
        self.path, self.expected, self.actual = path, expected, actual
        super().__init__(
            f"{path} is not the pinned autograder: its digest is {actual}, the pin says {expected}; "
            "fetch the bundle the pin names, or pin this one on purpose"
        )


class Manifest(Strict):
    format: Literal["layerlab-autograder/1"]
    course_version: str
    exercises: list[str]
    files: dict[str, str]  # member path -> sha256 hex of its bytes


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


# --- writing ----------------------------------------------------------------------------------


def members(course_file: Path = C.COURSE_FILE, exercise_ids: list[str] | None = None) -> dict[str, bytes]:
    """What the bundle of `exercise_ids` (default: every exercise) holds, manifest included. Raises BundleError
    for what would make it grade wrongly: an invalid check, a missing or stale fixture, invalid hidden checks."""
    course_file = Path(course_file)
    root = course_file.parent
    try:
        course = C.load(course_file)
    except C.CourseFileError as e:
        raise BundleError(f"course.yml is invalid, so no autograder was written:\n{e}") from None
    ids = exercise_ids or [e.id for e in course.exercises]
    if not ids:
        raise BundleError(f"{course_file} declares no exercises: there is nothing to grade")
    out: dict[str, bytes] = {"course.yml": course_file.read_bytes()}
    records = {e.id: e for e in course.exercises}
    for ex_id in ids:
        try:
            if ex_id not in records:
                raise exercise_mod.UnknownExercise(ex_id, list(records))
            exercise_mod.typed(records[ex_id], course_file)
            hidden_mod.load(course_file, ex_id)
        except (exercise_mod.UnknownExercise, exercise_mod.ExerciseError, hidden_mod.HiddenChecksError) as e:
            raise BundleError(str(e)) from None
        solution = root / "solutions" / ex_id
        fixture_file = solution / fx_mod.FIXTURE_NAME
        if not fixture_file.is_file():
            raise BundleError(f"no fixture recorded for {ex_id}: run `layerlab record {ex_id}`, then release again")
        recorded = fx_mod.Fixture.model_validate_json(fixture_file.read_bytes())
        if recorded.solution_digest != fx_mod.digest(solution, f"{ex_id}.py"):
            raise BundleError(
                f"the fixture of {ex_id} is stale (its solution changed since it was recorded): "
                f"run `layerlab record {ex_id}`, then release again"
            )
        out[f"fixtures/{ex_id}.json"] = fixture_file.read_bytes()
        if (hidden_file := hidden_mod.path_for(course_file, ex_id)).is_file():
            out[f"hidden/{ex_id}.yml"] = hidden_file.read_bytes()
        try:
            starter = release.expected(ex_id, root)
        except release.ReleaseError as e:
            raise BundleError(str(e)) from None
        out.update({f"starters/{ex_id}/{rel}": data for rel, data in starter.items()})
    manifest = Manifest(
        format=FORMAT,
        course_version=__version__,
        exercises=ids,
        files={name: hashlib.sha256(data).hexdigest() for name, data in sorted(out.items())},
    )
    out["manifest.json"] = (json.dumps(manifest.model_dump(), indent=1, sort_keys=True) + "\n").encode()
    return out


def pack(files: dict[str, bytes]) -> bytes:
    """A tar.gz of `files` whose bytes depend on their names and contents only."""
    raw = io.BytesIO()
    with (
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(files[name]), MTIME, 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(files[name]))
    return raw.getvalue()


@dataclass(frozen=True)
class Written:
    path: Path
    digest: str
    exercises: list[str]
    hidden: int  # hidden checks in it, all exercises together


def write(dest: Path, exercise_ids: list[str] | None = None, *, course_file: Path = C.COURSE_FILE) -> Written:
    """Write the bundle to `dest` (replacing it whole, never half-written) and return its digest."""
    files = members(course_file, exercise_ids)
    data = pack(files)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(dest)
    manifest = Manifest.model_validate_json(files["manifest.json"])
    hidden = sum(
        len(hidden_mod.parse(files[f"hidden/{i}.yml"].decode(), i))
        for i in manifest.exercises
        if f"hidden/{i}.yml" in files
    )
    return Written(dest, digest_of(data), manifest.exercises, hidden)


# --- reading ----------------------------------------------------------------------------------


def parse_spec(spec: str) -> tuple[Path, str | None]:
    """`FILE` or `FILE@sha256:<hex>` -> (the file, the pinned digest or None)."""
    path, at, pin = spec.rpartition("@")
    if not at or not pin.startswith("sha256:"):
        return Path(spec), None
    if not _DIGEST.match(pin):
        raise BundleError(f"{pin!r} is no digest: pin a bundle as FILE@sha256:<64 hex digits>")
    return Path(path), pin


class Bundle:
    """An opened, verified autograder bundle. Its course.yml (and starters) are unpacked into a temporary
    folder kept for the Bundle's life: `close()` (or leaving a `with` block) removes it."""

    def __init__(self, path: Path, digest: str, manifest: Manifest, files: dict[str, bytes]):
        self.path, self.digest, self.manifest = path, digest, manifest
        self._files = files
        self._tmp = tempfile.TemporaryDirectory(prefix="layerlab-autograder-")
        self.course_file = Path(self._tmp.name) / "course.yml"
        self.course_file.write_bytes(files["course.yml"])

    @property
    def exercises(self) -> list[str]:
        return list(self.manifest.exercises)

    def _need(self, exercise_id: str) -> None:
        if exercise_id not in self.manifest.exercises:
            raise BundleError(
                f"the autograder {self.path} has no exercise {exercise_id!r}; it grades {', '.join(self.exercises)}"
            )

    def text(self, name: str) -> bytes | None:
        """A member's bytes, or None."""
        return self._files.get(name)

    def fixture(self, exercise_id: str) -> fx_mod.Fixture:
        self._need(exercise_id)
        return fx_mod.Fixture.model_validate_json(self._files[f"fixtures/{exercise_id}.json"])

    def hidden_checks(self, exercise_id: str) -> list[CheckBase]:
        self._need(exercise_id)
        raw = self._files.get(f"hidden/{exercise_id}.yml")
        return [] if raw is None else hidden_mod.parse(raw.decode("utf-8"), f"{self.path}:hidden/{exercise_id}.yml")

    def starter(self, exercise_id: str) -> Path | None:
        """The exercise folder as students get it, unpacked; None when the bundle carries none."""
        self._need(exercise_id)
        prefix = f"starters/{exercise_id}/"
        folder = Path(self._tmp.name) / "starters" / exercise_id
        if not folder.is_dir():
            found = {n[len(prefix) :]: d for n, d in self._files.items() if n.startswith(prefix)}
            if not found:
                return None
            for rel, data in found.items():
                target = folder / rel  # each rel was checked to stay inside (see _read)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
        return folder

    def close(self) -> None:
        self._tmp.cleanup()

    def __enter__(self) -> Bundle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_bundle(spec: str) -> Bundle:
    """Open `FILE` or `FILE@sha256:<hex>`, check it (digest, manifest, every member's hash) and unpack it.
    Raises BundleError (DigestMismatch when the file is not the pinned one)."""
    path, pin = parse_spec(spec)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise BundleError(
            f"no autograder bundle at {path}: the instructor makes one with `layerlab release --autograder {path}`"
        ) from None
    except OSError as e:
        raise BundleError(f"cannot read the autograder bundle {path}: {e.strerror}") from None
    digest = digest_of(data)
    if pin is not None and pin != digest:
        raise DigestMismatch(path, pin, digest)
    files = _read(data, path)
    manifest = _manifest(files, path)
    return Bundle(path, digest, manifest, files)


def _read(data: bytes, path: Path) -> dict[str, bytes]:
    """The members, by name: regular files under the names a bundle has, nothing unpacked to disk here."""
    broken = f"{path} is not an autograder bundle"
    files: dict[str, bytes] = {}
    total = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            for info in tar:
                name = info.name
                parts = PurePosixPath(name).parts
                if not info.isreg() or not _MEMBER.match(name) or name.startswith("/") or ".." in parts:
                    raise BundleError(f"{broken}: it holds {name!r}, which no bundle holds")
                if name in files:
                    raise BundleError(f"{broken}: it holds {name} twice")
                total += info.size
                if total > MAX_BYTES:
                    raise BundleError(f"{broken}: it unpacks to more than {MAX_BYTES // 2**20} MB")
                f = tar.extractfile(info)
                files[name] = f.read() if f is not None else b""
    except (tarfile.TarError, OSError, EOFError) as e:
        raise BundleError(f"{broken} (not a readable tar.gz: {e})") from None
    return files


def _manifest(files: dict[str, bytes], path: Path) -> Manifest:
    raw = files.get("manifest.json")
    if raw is None:
        raise BundleError(f"{path} is not an autograder bundle: it has no manifest.json")
    try:
        fmt = json.loads(raw).get("format")
    except (ValueError, AttributeError):
        fmt = None
    if fmt != FORMAT:
        raise BundleError(
            f"{path} is of format {fmt!r}, this layerlab reads {FORMAT!r}: make it again with this layerlab"
        )
    try:
        manifest = Manifest.model_validate_json(raw)
    except ValidationError as e:
        raise BundleError(f"{path}: manifest.json is invalid: {e.errors()[0]['msg']}") from None
    listed, held = set(manifest.files), set(files) - {"manifest.json"}
    if listed != held:
        extra, missing = sorted(held - listed), sorted(listed - held)
        raise BundleError(
            f"{path} does not hold what its manifest lists (not listed: {', '.join(extra) or 'none'}; "
            f"missing: {', '.join(missing) or 'none'}): make it again with `layerlab release --autograder`"
        )
    changed = sorted(n for n in listed if hashlib.sha256(files[n]).hexdigest() != manifest.files[n])
    if changed:
        raise BundleError(f"{path} was changed after it was made ({', '.join(changed)} differ from its manifest)")
    for ex_id in manifest.exercises:
        if f"fixtures/{ex_id}.json" not in files:
            raise BundleError(f"{path} lists exercise {ex_id} but holds no fixture for it")
    return manifest


# --- grading ----------------------------------------------------------------------------------


def grade_with(b: Bundle, path: str | Path, exercise_id: str | None = None, show: Show = None) -> Report:
    """Grade the folder `path` with the bundle's checks, fixture, hidden checks and starter only; flag what the
    submission's folder or repository holds of them that differs (`Report.flags`). Never raises on bad input."""
    folder = Path(path)
    key = exercise_id or folder.resolve().name
    if key not in b.exercises:
        known = ", ".join(b.exercises)
        why = (
            f"cannot tell which exercise {folder} is: pass --exercise ID (the autograder grades {known})"
            if exercise_id is None
            else f"the autograder has no exercise {key!r}; it grades {known}"
        )
        return Report(exercise=key, path=str(folder), run_id="-", problems=[why], autograder=b.digest)
    report = runner.grade(
        folder,
        key,
        course_file=b.course_file,
        fixture=b.fixture(key),
        hidden=b.hidden_checks(key),
        starter=b.starter(key),
        show=show,
    )
    report.autograder = b.digest
    hidden_raw = b.text(f"hidden/{key}.yml")
    report.flags += tamper.flags(
        folder,
        key,
        course_text=(b.text("course.yml") or b"").decode("utf-8"),
        fixture_bytes=b.text(f"fixtures/{key}.json") or b"{}",
        hidden_text=None if hidden_raw is None else hidden_raw.decode("utf-8"),
    )
    return report
