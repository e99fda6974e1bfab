"""A real container registry on localhost, for the lessons that push and pull (05, 09).

`up()` starts one registry container at localhost:5000 (LAYERLAB_REGISTRY_PORT
moves it), labelled like everything the course makes, so `layerlab clean`
removes it. Online it runs the official `registry:2`; offline it runs a
stand-in of that name built from Debian's `docker-registry` package (the same
Distribution registry), labelled `org.layerlab.standin=true`. The stand-in is
built the first time a lesson asks for the registry, not by `bootstrap`.

`index()` and `manifest()` read what a push stored through the registry's own
HTTP API (the Distribution v2 API), so a lesson sees the raw JSON a pull sees.
"""

from __future__ import annotations

import json
import re
import shutil
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import Field
from python_on_whales.exceptions import DockerException, NoSuchContainer

from layerlab import engine
from layerlab.engine import bootstrap, catalogue, containers, images, labels, replay
from layerlab.engine.result import Replayable, Result
from layerlab.ground import machine_lock, settings
from layerlab.ground.errors import LayerlabError
from layerlab.ground.text import Printer, error_text, last_line
from layerlab.ground.text import say as say_line

CONTAINER = "layerlab-registry"
ROLE = "org.layerlab.role"
IMAGE = catalogue.REGISTRY
INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
MANIFEST_TYPES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
# What buildx puts in an index next to the images: an attestation manifest per platform.
ATTESTATION_REF_TYPE = "vnd.docker.reference.type"


class RegistryError(LayerlabError, RuntimeError):
    """The registry could not be started or read; the message says why and what to do."""


def port() -> int:
    return settings.registry_port()


def address() -> str:
    """host:port as image references name it: `localhost:5000/name:tag`."""
    return f"localhost:{port()}"


def api_url(path: str) -> str:
    # 127.0.0.1 by default: the container publishes on IPv4 loopback only.
    return f"http://{settings.registry_api()}{path}"


class Status(Replayable):
    running: bool
    address: str
    image: str | None = None
    standin: bool | None = None
    container: str | None = None
    api: str | None = None  # what GET /v2/ answered
    detail: str = ""

    def line(self) -> str:
        if not self.running:
            return f"registry: not running ({self.detail})" if self.detail else "registry: not running"
        kind = "stand-in from Debian's docker-registry" if self.standin else "official"
        return f"registry: running at {self.address} ({self.image}, {kind}; container {self.container}); GET /v2/ -> {self.api}"


def _api_answer(timeout: float = 2.0) -> str | None:
    """HTTP status of GET /v2/ (the API's version check), or None when nothing answers."""
    try:
        with urllib.request.urlopen(api_url("/v2/"), timeout=timeout) as r:
            return f"{r.status} {r.headers.get('Docker-Distribution-Api-Version', '')}".strip()
    except urllib.error.HTTPError as e:
        return str(e.code)
    except (urllib.error.URLError, OSError):
        return None


def _container():
    client = engine.require()
    try:
        return client.container.inspect(CONTAINER)
    except (NoSuchContainer, DockerException):
        return None


def status_live() -> Status:
    c = _container()
    if c is None:
        other = _api_answer(timeout=1.0)
        detail = (
            f"something else answers on port {port()}"
            if other
            else "no registry container; `layerlab registry up` starts one"
        )
        return Status(running=False, address=address(), detail=detail)
    image = c.config.image if c.config else None
    f = images.facts(image, verify=False) if image else None
    api = _api_answer() if c.state.running else None
    return Status(
        running=bool(c.state.running and api and api.startswith("200")),
        address=address(),
        image=image,
        standin=f.standin if f else None,
        container=c.name,
        api=api,
        detail="" if c.state.running else f"container {c.name} is {c.state.status}",
    )


def ensure_image(say: Printer = say_line) -> str:
    """The registry image, pulled (online) or built as a stand-in (offline) when missing."""
    bootstrap.ensure_service_image(IMAGE, say)
    return IMAGE.ref


def up_live(say: Printer = say_line, timeout: float = 30.0) -> Status:
    """Start the registry (or keep the one running) and wait until its API answers."""
    # Under the machine's lock: a second caller (the other lane of `make test`, another kernel) would otherwise
    # take the starting registry for a broken one and remove it, or fail on its name.
    with machine_lock.held("registry", say, "another process is starting the registry; waiting for it"):
        return _up_live(say, timeout)


def _up_live(say: Printer, timeout: float) -> Status:
    client = engine.require()
    now = status_live()
    if now.running:
        return now
    c = _container()
    if c is not None:  # stopped or broken: start afresh
        client.container.remove(c, force=True, volumes=True)
    elif _api_answer(timeout=1.0):
        raise RegistryError(
            f"{settings.registry_api()} is taken by something that is not the course's registry; "
            "stop it, or choose another port with LAYERLAB_REGISTRY_PORT=5001"
        )
    image = ensure_image(say)
    try:
        client.container.run(
            image,
            detach=True,
            name=CONTAINER,
            publish=[(f"{settings.registry_bind()}:{port()}", 5000)],
            labels={**labels.course_labels("registry"), ROLE: "registry"},
            pull="never",
        )
    except DockerException as e:
        raise RegistryError(f"the registry container did not start: {last_line(error_text(e))}") from None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s = status_live()
        if s.running:
            return s
        time.sleep(0.3)
    logs = containers.logs(client, CONTAINER)[-800:]
    raise RegistryError(f"the registry did not answer on {address()} within {timeout:.0f} s; its log ends:\n{logs}")


def down() -> bool:
    """Remove the registry container (and what it stored). True when there was one."""
    c = _container()
    if c is None:
        return False
    engine.require().container.remove(c, force=True, volumes=True)
    return True


status = replay.replayable("registry", lambda: "status", Status)(status_live)
up = replay.replayable("registry", lambda say=say_line, timeout=30.0: "up", Status)(up_live)


# ---- pushing and reading back ---------------------------------------------


class PushResult(Replayable):
    source: str
    ref: str  # localhost:5000/name:tag
    digest: str  # the index's digest, as the registry names it
    seconds: float
    sent: Traffic | None = None  # what the push did, from the registry's access log (None in old recordings)


def split(ref: str) -> tuple[str, str]:
    """`localhost:5000/name:tag` -> ("name", "tag"); the registry's API names a repository without the host."""
    rest = (
        ref.split("/", 1)[1]
        if "/" in ref and (":" in ref.split("/")[0] or "." in ref.split("/")[0] or ref.startswith("localhost"))
        else ref
    )
    if "@" in rest:
        name, tag = rest.split("@", 1)
    elif ":" in rest.rsplit("/", 1)[-1]:
        name, tag = rest.rsplit(":", 1)
    else:
        name, tag = rest, "latest"
    return name, tag


def push_live(source: str, name: str | None = None) -> PushResult:
    """Tag a local (multi-platform) image as localhost:PORT/NAME and push it: every platform, one index."""
    client = engine.require()
    repo_tag = name or source.split("/")[-1]
    ref = f"{address()}/{repo_tag}"
    client.image.tag(source, ref)
    since = since_now()
    start = time.perf_counter()
    try:
        client.image.push(ref, quiet=True)
    except DockerException as e:
        raise RegistryError(f"push of {ref} failed: {last_line(error_text(e))}") from None
    seconds = time.perf_counter() - start
    digest = fetch(ref)[1]
    return PushResult(
        source=source, ref=ref, digest=digest, seconds=round(seconds, 3), sent=traffic_live(split(ref)[0], since)
    )


# The registry's access log (Apache combined format), one line per request:
# `"PUT /v2/<name>/blobs/uploads/<id>?...digest=sha256%3A... HTTP/1.1" 201 0`, `"GET /v2/<name>/blobs/<digest> ..." 200 <bytes>`.
_ACCESS = re.compile(
    r'"(?P<method>[A-Z]+) /v2/(?P<name>[^ ?]+?)/blobs/(?P<rest>[^ ]*) HTTP/[0-9.]+" '
    r"(?P<code>[0-9]{3}) (?P<bytes>[0-9]+|-)"
)


class Traffic(Replayable):
    """What clients asked of one repository since a moment, read from the registry's own access log."""

    name: str
    uploaded: dict[str, int] = Field(default_factory=dict)  # blob digest -> bytes, each a completed upload (PUT)
    mounted: list[str] = Field(default_factory=list)  # blobs mounted from another repository (no bytes sent)
    present: int = 0  # HEAD checks answered 200: blobs the repository already had ("Layer already exists")
    downloaded: dict[str, int] = Field(default_factory=dict)  # blob digest -> bytes served by GET
    log_read: bool = False  # False when the registry's log could not be read

    @property
    def uploaded_bytes(self) -> int:
        return sum(self.uploaded.values())

    @property
    def downloaded_bytes(self) -> int:
        return sum(self.downloaded.values())


def read_access_log(text: str, name: str) -> Traffic:
    """Blob requests for repository `name` in the registry's access log `text`; an upload's bytes are 0 here
    (the log line of the final PUT does not carry them: `traffic_live` asks the registry)."""
    t = Traffic(name=name, log_read=True)
    for m in _ACCESS.finditer(text):
        if m["name"] != name:
            continue
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(m["rest"]).query)
        if m["method"] == "PUT" and m["rest"].startswith("uploads/") and m["code"] == "201" and "digest" in query:
            t.uploaded[query["digest"][0]] = 0
        elif m["method"] == "POST" and "mount" in query and m["code"] == "201":
            t.mounted.append(query["mount"][0])
        elif m["method"] == "HEAD" and m["code"] == "200":
            t.present += 1
        elif m["method"] == "GET" and m["code"] == "200" and m["rest"].startswith("sha256:") and m["bytes"] != "-":
            t.downloaded[m["rest"]] = t.downloaded.get(m["rest"], 0) + int(m["bytes"])
    return t


def traffic_live(name: str, since: datetime) -> Traffic:
    """Blob requests for repository `name` (without the host) since `since`: uploads, mounts, HEADs, downloads."""
    try:
        text = str(engine.require().container.logs(CONTAINER, since=since))
    except DockerException:
        return Traffic(name=name)
    t = read_access_log(text, name)
    t.uploaded = {d: blob_present(name, d) or 0 for d in t.uploaded}
    return t


traffic = replay.replayable("traffic", lambda name, since: replay.stable(name), Traffic)(traffic_live)
PushResult.model_rebuild()  # its `sent` is a Traffic, defined after it


def since_now() -> datetime:
    """A moment to read the registry's log from (`--since` counts whole seconds: one second earlier)."""
    return datetime.now(UTC) - timedelta(seconds=1)


push = replay.replayable("push", lambda source, name=None: replay.stable(f"{source}|{name}"), PushResult)(push_live)


def fetch(ref: str, accept: tuple[str, ...] = INDEX_TYPES + MANIFEST_TYPES) -> tuple[dict, str, str]:
    """GET a manifest or index by tag or digest: (the JSON, its digest, its media type)."""
    name, tag = split(ref)
    req = urllib.request.Request(api_url(f"/v2/{name}/manifests/{tag}"), headers={"Accept": ", ".join(accept)})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            body = r.read()
            return json.loads(body), r.headers.get("Docker-Content-Digest", ""), r.headers.get("Content-Type", "")
    except urllib.error.HTTPError as e:
        raise RegistryError(f"GET /v2/{name}/manifests/{tag} answered {e.code}: {e.read()[:300]!r}") from None
    except (urllib.error.URLError, OSError) as e:
        raise RegistryError(f"no registry answers at {address()} ({e}); `layerlab registry up` starts it") from None


def fetch_blob(repo: str, digest: str) -> tuple[dict, str, str]:
    """GET a JSON blob (an image config) from `localhost:PORT/name` by digest: (the JSON, digest, media type)."""
    name, _ = split(repo + ":x")
    try:
        with urllib.request.urlopen(api_url(f"/v2/{name}/blobs/{digest}"), timeout=10) as r:
            return json.loads(r.read()), digest, r.headers.get("Content-Type", "")
    except urllib.error.HTTPError as e:
        raise RegistryError(f"GET /v2/{name}/blobs/{digest[:19]}… answered {e.code}") from None
    except (urllib.error.URLError, OSError) as e:
        raise RegistryError(f"no registry answers at {address()} ({e}); `layerlab registry up` starts it") from None


class Entry(Result):
    """One manifest an index lists."""

    digest: str
    media_type: str
    platform: str  # os/arch[/variant]; "unknown/unknown" for an attestation
    size: int  # bytes of the manifest itself
    layers_bytes: int  # compressed: what a pull of this platform downloads (its layers)
    layers: int
    attests: str | None = None  # for an attestation manifest: the digest of the image it describes

    @property
    def is_attestation(self) -> bool:
        return self.attests is not None


class Index(Replayable):
    ref: str
    digest: str
    media_type: str
    raw: dict[str, Any]  # the index as the registry serves it (JSON)
    entries: list[Entry] = Field(default_factory=list)

    @property
    def images(self) -> list[Entry]:
        return [e for e in self.entries if not e.is_attestation]

    @property
    def attestations(self) -> list[Entry]:
        return [e for e in self.entries if e.is_attestation]

    @property
    def platforms(self) -> list[str]:
        return [e.platform for e in self.images]

    def entry(self, platform: str) -> Entry:
        return next(e for e in self.images if e.platform == platform)

    def table(self) -> str:
        lines = [f"{self.ref}  index {self.digest[:19]}…  ({self.media_type})"]
        for e in self.entries:
            what = (
                f"attestation for {e.attests[:19]}…"
                if e.attests
                else f"{e.layers} layers, {e.layers_bytes / 1e6:.1f} MB compressed"
            )
            lines.append(f"  {e.platform:<16} {e.digest[:19]}…  {what}")
        return "\n".join(lines)


def _platform(p: dict | None) -> str:
    if not p:
        return "unknown/unknown"
    s = f"{p.get('os', 'unknown')}/{p.get('architecture', 'unknown')}"
    return s + (f"/{p['variant']}" if p.get("variant") else "")


def index_live(ref: str) -> Index:
    """Read an image index from the registry, and each manifest it lists."""
    raw, digest, media_type = fetch(ref)
    name, _ = split(ref)
    if "manifests" not in raw:
        raise RegistryError(f"{ref} is a single-platform manifest ({media_type}), not an index")
    entries = []
    for m in raw["manifests"]:
        body, _, _ = fetch(f"{address()}/{name}@{m['digest']}", accept=(m["mediaType"],))
        layers = body.get("layers", [])
        ann = m.get("annotations") or {}
        entries.append(
            Entry(
                digest=m["digest"],
                media_type=m["mediaType"],
                platform=_platform(m.get("platform")),
                size=m["size"],
                layers_bytes=sum(l["size"] for l in layers),
                layers=len(layers),
                attests=ann.get("vnd.docker.reference.digest")
                if ann.get(ATTESTATION_REF_TYPE) == "attestation-manifest"
                else None,
            )
        )
    return Index(ref=ref, digest=digest, media_type=media_type, raw=raw, entries=entries)


index = replay.replayable("index", lambda ref: replay.stable(ref), Index)(index_live)


# ---- what one platform's image is made of, as the registry stores it ----------------------


class Blobs(Replayable):
    """The blobs a pull of `ref` for one platform reads: its config and layers, by digest, with their sizes."""

    ref: str
    digest: str  # what the tag points at (an index or a manifest)
    manifest_digest: str  # the platform's own manifest
    config: str
    layers: dict[str, int]  # digest -> compressed bytes, in order
    config_bytes: int = 0
    labels: dict[str, str] = Field(default_factory=dict)  # from the config blob
    diff_ids: list[str] = Field(default_factory=list)  # the layers' uncompressed digests, from the config blob

    @property
    def total(self) -> int:
        return sum(self.layers.values()) + self.config_bytes

    def new_in(self, other: Blobs) -> dict[str, int]:
        """Blobs of `other` that this image does not have: what a push of `other` after this one uploads."""
        mine = set(self.layers) | {self.config}
        found = dict(other.layers)
        found[other.config] = other.config_bytes
        return {d: s for d, s in found.items() if d not in mine}

    def content_new_in(self, other: Blobs) -> dict[str, int]:
        """Layers of `other` whose content (diff ID) this image lacks, by blob digest: what a change made new,
        however many unchanged layers the engine compressed again into other blobs."""
        if len(other.diff_ids) != len(other.layers):
            raise ValueError(f"{other.ref}: {len(other.layers)} layers but {len(other.diff_ids)} diff IDs")
        mine = set(self.diff_ids)
        return {d: s for (d, s), diff in zip(other.layers.items(), other.diff_ids) if diff not in mine}

    def changed_layers(self, other: Blobs) -> list[str]:
        """Each layer whose blob differs between this image and `other`, and whether its content did too.

        A layer can come back with the same content (diff ID) but another blob: compressed again.
        """
        out = []
        for i, (a, b) in enumerate(zip(self.layers, other.layers)):
            if a != b:
                same = bool(self.diff_ids) and self.diff_ids[i : i + 1] == other.diff_ids[i : i + 1]
                out.append(
                    f"layer {i + 1} ({other.layers[b] / 1e6:.1f} MB): "
                    + ("the same content compressed again" if same else "new content")
                )
        return out


def platform_manifest(ref: str, platform: str | None = None) -> tuple[dict, str]:
    """The manifest a pull on `platform` (default: this machine's) reads for `ref`, and its digest."""
    body, digest, _ = fetch(ref)
    if "manifests" not in body:
        return body, digest
    want = platform or engine.host_platform()
    name, _ = split(ref)
    for m in body["manifests"]:
        if _platform(m.get("platform")) == want:
            found, d, _ = fetch(f"{address()}/{name}@{m['digest']}", accept=(m["mediaType"],))
            return found, d
    raise RegistryError(f"{ref} has no manifest for {want}")


def download_blob(name: str, digest: str, dest: Path) -> Path:
    """GET one blob of repository `name` into the file `dest`, streamed (a layer can be large)."""
    try:
        with urllib.request.urlopen(api_url(f"/v2/{name}/blobs/{digest}"), timeout=60) as r, dest.open("wb") as f:
            shutil.copyfileobj(r, f)
    except urllib.error.HTTPError as e:
        raise RegistryError(f"GET /v2/{name}/blobs/{digest[:19]}… answered {e.code}") from None
    except (urllib.error.URLError, OSError) as e:
        raise RegistryError(f"no registry answers at {address()} ({e}); `layerlab registry up` starts it") from None
    return dest


def blob_present(name: str, digest: str) -> int | None:
    """HEAD /v2/<name>/blobs/<digest>: the blob's size as the registry reports it, or None when it is absent."""
    req = urllib.request.Request(api_url(f"/v2/{name}/blobs/{digest}"), method="HEAD")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return int(r.headers.get("Content-Length", "0"))
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return None
        raise RegistryError(f"HEAD /v2/{name}/blobs/{digest[:19]}… answered {e.code}") from None


def blobs_live(ref: str, platform: str | None = None) -> Blobs:
    manifest, mdigest = platform_manifest(ref, platform)
    name, _ = split(ref)
    _, digest, _ = fetch(ref)
    cfg = manifest["config"]
    # Sizes from the registry itself (HEAD), which also proves it holds every blob the manifest names.
    layers = {}
    for l in manifest.get("layers", []):
        size = blob_present(name, l["digest"])
        if size is None:
            raise RegistryError(f"{ref}: the registry lacks layer {l['digest'][:19]}…")
        layers[l["digest"]] = size
    config, _, _ = fetch_blob(f"{address()}/{name}", cfg["digest"])
    return Blobs(
        ref=ref,
        digest=digest,
        manifest_digest=mdigest,
        config=cfg["digest"],
        layers=layers,
        config_bytes=blob_present(name, cfg["digest"]) or 0,
        labels=(config.get("config") or {}).get("Labels") or {},
        diff_ids=list((config.get("rootfs") or {}).get("diff_ids") or []),
    )


class PullResult(Replayable):
    ref: str
    tag: str  # the local name the pulled image was given
    seconds: float


def pull_live(ref: str, as_tag: str) -> PullResult:
    """Pull `ref` (by tag or digest) from the local registry and name it `as_tag` locally."""
    client = engine.require()
    start = time.perf_counter()
    try:
        client.image.pull(ref, quiet=True)
    except DockerException as e:
        raise RegistryError(f"pull of {ref} failed: {last_line(error_text(e))}") from None
    seconds = time.perf_counter() - start
    client.image.tag(ref, as_tag)
    return PullResult(ref=ref, tag=as_tag, seconds=round(seconds, 3))


def _no_digests(key: str) -> str:
    # Each run's images have their own digests: a replay must find another run's recording.
    return re.sub(r"sha256:[0-9a-f]{64}", "sha256:DIGEST", replay.stable(key))


pull = replay.replayable("pull", lambda ref, as_tag: _no_digests(f"{ref}|{as_tag}"), PullResult)(pull_live)


blobs = replay.replayable("blobs", lambda ref, platform=None: _no_digests(f"{ref}|{platform}"), Blobs)(blobs_live)


def drop_local_names(marker: str) -> int:
    """Remove the local names `localhost:PORT/...<marker>...` that pushes (and pulls by digest) left in the engine.

    The registry keeps what was pushed; the engine keeps the content under the course's own tags.
    Returns how many names went. Nothing to do in a replay.
    """
    if replay.mode() == "replay" or not marker:
        return 0
    try:
        client = engine.require()
    except engine.EngineUnavailable:
        return 0
    prefix = f"{address()}/"
    gone = 0
    for image in client.image.list(filters={"reference": f"{prefix}*{marker}*"}):
        for name in list(image.repo_tags or []) + list(image.repo_digests or []):
            if name.startswith(prefix) and marker in name:
                try:
                    client.image.remove(name)
                    gone += 1
                except DockerException:
                    pass
    return gone


# ---- provenance: what buildx's attestation says about a build ------------------------------------


class Provenance(Replayable):
    """The provenance attestation the registry serves next to one image of `ref`, summarised."""

    ref: str
    predicate_type: str  # https://slsa.dev/provenance/v0.2 (buildx's default format)
    keys: list[str]  # the predicate's top-level fields
    build_args: list[str] = Field(default_factory=list)  # names in invocation.parameters.args (values left out)
    steps: int = 0  # build steps recorded (buildConfig.llbDefinition): 0 in mode=min
    dockerfile: str = ""  # the Dockerfile's text when the attestation carries it (mode=max), else ""


def provenance_live(ref: str) -> Provenance:
    """Read the provenance attestation of `ref`'s first image: the in-toto statement buildx pushed as a layer."""
    ix = index_live(ref)
    name, _ = split(ref)
    att = next((e for e in ix.attestations), None)
    if att is None:
        raise RegistryError(f"{ref} carries no attestation (built with provenance off?)")
    manifest, _, _ = fetch(f"{address()}/{name}@{att.digest}", accept=(att.media_type,))
    for layer in manifest.get("layers", []):
        if (
            (layer.get("annotations") or {})
            .get("in-toto.io/predicate-type", "")
            .startswith("https://slsa.dev/provenance")
        ):
            statement, _, _ = fetch_blob(f"{address()}/{name}", layer["digest"])
            break
    else:
        raise RegistryError(f"{ref}: the attestation holds no SLSA provenance")
    pred = statement.get("predicate") or {}
    args = ((pred.get("invocation") or {}).get("parameters") or {}).get("args") or {}
    steps = len(((pred.get("buildConfig") or {}).get("llbDefinition")) or [])
    source = ((pred.get("metadata") or {}).get("https://mobyproject.org/buildkit@v1#metadata") or {}).get(
        "source"
    ) or {}
    dockerfile = ""
    for info in source.get("infos") or []:
        if "Dockerfile" in str(info.get("filename", "")) and info.get("data"):
            import base64

            dockerfile = base64.b64decode(info["data"]).decode("utf-8", "replace")
    return Provenance(
        ref=ref,
        predicate_type=statement.get("predicateType", ""),
        keys=sorted(pred),
        build_args=sorted(args),
        steps=steps,
        dockerfile=dockerfile,
    )


provenance = replay.replayable("provenance", lambda ref: replay.stable(ref), Provenance)(provenance_live)
