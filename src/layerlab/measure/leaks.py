"""Find where a secret ended up in an image: every layer's files, the history, the config, the attestations.

An image is a stack of tar files plus a JSON config, and deleting a file in a
later layer hides it from a container without removing it from the layer
that added it; `ARG` values show in the history of the `RUN`s that use them,
`ENV` values in the config, and buildx's provenance attestation records the
build arguments. `scan_image` reads what `docker save` writes, `scan_pushed`
what a registry serves, and both look in all of those places.

A finding names the place (layer and path, history entry, config key) and
never carries the secret in full: `mask()` keeps its first characters and its
length, so a report can be printed, logged and handed to a student.

`lock`/`unlock` are the small cipher of lesson 09: a file
that only a build that has the token can turn back into its plain text.
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import io
import json
import secrets as _random
import tarfile
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, Literal, cast

from pydantic import Field

from layerlab import engine
from layerlab.engine import replay
from layerlab.engine.result import Replayable, Result
from layerlab.ground.errors import LayerlabError

from .oci import CountingReader

ATTESTATION_TYPE = "vnd.docker.reference.type"
INDEX_TYPES = ("application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json")
WHITEOUT = ".wh."


def new_token(prefix: str = "llt_") -> str:
    """A fresh random token: a string that appears nowhere unless a build put it there."""
    return prefix + _random.token_hex(16)


def mask(token: str) -> str:
    """What a report shows of a token: its first 4 characters and its length, never the rest."""
    return f"{token[:4]}…({len(token)} chars)"


def _masked(text: str, token: str, width: int = 90) -> str:
    """`text` around the token's first occurrence, the token masked."""
    i = text.find(token)
    start = max(0, i - 30)
    out = text[start:i] + mask(token) + text[i + len(token) : i + len(token) + width - 30]
    return ("…" if start else "") + out.replace("\n", " ")


# ---- the lock of lesson 09: SHA-256 in counter mode, and an HMAC so a wrong token fails loudly ----
MAGIC = b"LLOCK1"


def _stream(token: str, nonce: bytes, n: int) -> bytes:
    out = bytearray()
    counter = 0
    while len(out) < n:
        out += hashlib.sha256(token.encode() + nonce + counter.to_bytes(8, "big")).digest()
        counter += 1
    return bytes(out[:n])


def lock(plain: bytes, token: str, nonce: bytes | None = None) -> bytes:
    nonce = nonce if nonce is not None else _random.token_bytes(16)
    body = bytes(a ^ b for a, b in zip(plain, _stream(token, nonce, len(plain))))
    tag = hmac.new(token.encode(), nonce + body, hashlib.sha256).digest()
    return MAGIC + nonce + tag + body


def unlock(locked: bytes, token: str) -> bytes:
    if not locked.startswith(MAGIC):
        raise ValueError("not a locked file")
    nonce, tag, body = locked[6:22], locked[22:54], locked[54:]
    if not hmac.compare_digest(tag, hmac.new(token.encode(), nonce + body, hashlib.sha256).digest()):
        raise ValueError("wrong token")
    return bytes(a ^ b for a, b in zip(body, _stream(token, nonce, len(body))))


# ---- findings ---------------------------------------------------------------


class Place(Result):
    kind: Literal["layer", "history", "config", "attestation"]
    where: str  # "layer 3/7 (COPY unlock.token /tmp/)", "history 5", "config.Env[3]", ...
    path: str = ""  # the file inside a layer
    detail: str = ""  # the text around the token, masked; or what happened to the file later

    def line(self) -> str:
        what = f"{self.where}: {self.path}" if self.path else self.where
        return f"{self.kind:<11} {what}" + (f"  [{self.detail}]" if self.detail else "")


class Scan(Replayable):
    image: str
    token: str  # masked: mask(token)
    places: list[Place] = Field(default_factory=list)
    layers: int = 0
    files: int = 0
    bytes_read: int = 0
    seconds: float = 0.0

    @property
    def found(self) -> bool:
        return bool(self.places)

    def kinds(self) -> set[str]:
        return {p.kind for p in self.places}

    def table(self) -> str:
        head = (
            f"{self.image}: token {self.token} "
            + (f"found in {len(self.places)} place(s)" if self.places else "found nowhere")
            + f" ({self.layers} layers, {self.files} files, {self.bytes_read / 1e6:.1f} MB read)"
        )
        return "\n".join([head] + [f"  {p.line()}" for p in self.places])


class _Scanner:
    """Walks an image given a way to read its blobs; adds a Place for each hit."""

    def __init__(
        self, name: str, token: str, blob: Callable[[str], IO[bytes]], manifest: Callable[[str], dict] | None = None
    ) -> None:
        self.token, self.needle, self.blob = token, token.encode(), blob
        # An archive keeps manifests as blobs; a registry serves them from its manifests endpoint.
        self.manifest = manifest or (lambda digest: json.load(blob(digest)))
        self.scan = Scan(image=name, token=mask(token))

    def walk(self, top: dict, host: str | None) -> Scan:
        for label, desc in self._manifests(top):
            manifest = desc["_manifest"] if "_manifest" in desc else self.manifest(desc["digest"])
            ann = desc.get("annotations") or {}
            if ann.get(ATTESTATION_TYPE) == "attestation-manifest":
                self._attestation(manifest, ann.get("vnd.docker.reference.digest", ""))
                continue
            if host and label not in (host, ""):
                continue  # another platform's half: a pull on this machine never reads it
            config = json.load(self.blob(manifest["config"]["digest"]))
            self._config(config)
            self._layers(manifest, config)
        if not self.scan.layers:
            # Finding nothing because nothing was read must never pass for "no leak".
            raise ValueError(f"{self.scan.image}: no image for {host} found to scan")
        return self.scan

    def _manifests(self, top: dict) -> Iterator[tuple[str, dict]]:
        if "manifests" not in top:
            yield "", {"_manifest": top}
            return
        for desc in top["manifests"]:
            if desc.get("mediaType") in INDEX_TYPES:
                yield from self._manifests(self.manifest(desc["digest"]))
                continue
            p = desc.get("platform") or {}
            yield (f"{p.get('os', '')}/{p.get('architecture', '')}" if p else ""), desc

    def _config(self, config: dict) -> None:
        history = config.get("history", [])
        for i, h in enumerate(history):
            for key in ("created_by", "comment"):
                text = h.get(key) or ""
                if self.token in text:
                    self.scan.places.append(
                        Place(kind="history", where=f"history {i + 1}/{len(history)}", detail=_masked(text, self.token))
                    )
        rest = {k: v for k, v in config.items() if k != "history"}
        for key, text in _strings(rest, "config"):
            if self.token in text:
                self.scan.places.append(Place(kind="config", where=key, detail=_masked(text, self.token)))

    def _layers(self, manifest: dict, config: dict) -> None:
        made_by = [h.get("created_by", "") for h in config.get("history", []) if not h.get("empty_layer")]
        layers = manifest.get("layers", [])
        seen: list[list[str]] = []
        hits: list[tuple[int, str]] = []
        for n, layer in enumerate(layers):
            names = []
            raw = self.blob(layer["digest"])
            head = raw.read(2)
            stream: io.RawIOBase | gzip.GzipFile = _Chain(head, raw)
            if head == b"\x1f\x8b":
                stream = gzip.GzipFile(fileobj=stream)
            counted = CountingReader(stream)
            with tarfile.open(fileobj=cast(IO[bytes], counted), mode="r|") as tar:  # a stream: only read()
                for m in tar:
                    names.append(m.name)
                    if self.needle in m.name.encode():
                        hits.append((n, m.name))
                    if not m.isreg() or m.name.rsplit("/", 1)[-1].startswith(WHITEOUT):
                        continue  # a whiteout marks a deletion; it holds nothing
                    self.scan.files += 1
                    f = tar.extractfile(m)
                    if f is not None and _contains(f, self.needle):
                        hits.append((n, m.name))
            counted.drain()
            self.scan.bytes_read += counted.count
            seen.append(names)
        self.scan.layers += len(layers)
        for n, name in hits:
            later = _deleted_later(name, seen[n + 1 :])
            why = made_by[n] if n < len(made_by) else ""
            self.scan.places.append(
                Place(
                    kind="layer",
                    where=f"layer {n + 1}/{len(layers)} ({_short(why)})",
                    path="/" + name.lstrip("./"),
                    detail=f"deleted by layer {n + 1 + later}, still in this one" if later else "",
                )
            )

    def _attestation(self, manifest: dict, subject: str) -> None:
        for layer in manifest.get("layers", []):
            text = self.blob(layer["digest"]).read().decode("utf-8", "replace")
            self.scan.bytes_read += len(text)
            if self.token in text:
                kind = (layer.get("annotations") or {}).get("in-toto.io/predicate-type", layer.get("mediaType", ""))
                self.scan.places.append(
                    Place(
                        kind="attestation",
                        where=f"attestation of {subject[:19]}… ({kind.rsplit('/', 2)[-2] if '/' in kind else kind})",
                        detail=_masked(text, self.token),
                    )
                )


def _short(created_by: str, width: int = 48) -> str:
    text = created_by.removesuffix("# buildkit").replace("/bin/sh -c ", "").strip()
    return text if len(text) <= width else text[: width - 1] + "…"


def _strings(node: Any, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, str):
        yield where, node
    elif isinstance(node, dict):
        for k, v in node.items():
            yield from _strings(v, f"{where}.{k}")
            if isinstance(k, str):
                yield f"{where} key", k
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _strings(v, f"{where}[{i}]")


def _contains(f: IO[bytes], needle: bytes, chunk: int = 1 << 20) -> bool:
    tail = b""
    while True:
        block = f.read(chunk)
        if not block:
            return False
        if needle in tail + block:
            return True
        tail = block[-(len(needle) - 1) :] if len(needle) > 1 else b""


def _deleted_later(name: str, later: list[list[str]]) -> int:
    """How many layers later a whiteout removes `name` (or a folder above it); 0 if none does."""
    parts = name.strip("/").removeprefix("./").split("/")
    for i, names in enumerate(later, 1):
        for k in range(1, len(parts) + 1):
            wh = "/".join(parts[: k - 1] + [WHITEOUT + parts[k - 1]])
            if wh in names or "./" + wh in names:
                return i
    return 0


class _Chain(io.RawIOBase):
    """The two bytes read to sniff gzip, then the rest of the stream."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self.head, self.rest = head, rest

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if self.head:
            out, self.head = self.head, b""
            if n is None or n < 0:
                return out + self.rest.read()
            return out + self.rest.read(max(0, n - len(out)))
        return self.rest.read(n)

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)


# ---- sources: a saved image, a registry -----------------------------------------


def scan_archive(path: Path, token: str, name: str = "", host: str | None = None) -> Scan:
    """Scan a `docker save` archive (OCI layout): the host's image, its config, history and attestations."""
    start = time.perf_counter()
    with tarfile.open(path, "r:") as tar:
        members = {m.name: m for m in tar.getmembers()}

        def blob_named(name: str) -> IO[bytes]:
            f = tar.extractfile(members[name])
            assert f is not None, name  # blobs and index.json are regular files
            return f

        def blob(digest: str) -> IO[bytes]:
            algo, hexd = digest.split(":", 1)
            return blob_named(f"blobs/{algo}/{hexd}")

        top = json.load(blob_named("index.json"))
        result = _Scanner(name or path.name, token, blob).walk(top, host or engine.host_platform())
    result.seconds = round(time.perf_counter() - start, 2)
    return result


def _key(image: str, token: str, **kw: Any) -> str:
    # Not the token: each run makes its own, and a replay must find another run's recording.
    return replay.stable(image)


def scan_image_live(image: str, token: str) -> Scan:
    """Save `image` from the engine and scan it for `token`."""
    with tempfile.TemporaryDirectory(prefix="layerlab-leaks-") as tmp:
        archive = Path(tmp) / "image.tar"
        engine.require().image.save(image, output=archive)
        return scan_archive(archive, token, name=image)


def scan_pushed_live(ref: str, token: str) -> Scan:
    """Scan what the registry serves for `ref` (tag or digest): every blob a pull reads, and the attestations."""
    from layerlab.engine import registry

    name, _ = registry.split(ref)
    start = time.perf_counter()

    def blob(digest: str) -> IO[bytes]:
        return urllib.request.urlopen(registry.api_url(f"/v2/{name}/blobs/{digest}"), timeout=60)

    def manifest(digest: str) -> dict:
        return registry.fetch(f"{registry.address()}/{name}@{digest}")[0]

    top, _, _ = registry.fetch(ref)
    result = _Scanner(ref, token, blob, manifest).walk(top, engine.host_platform())
    result.seconds = round(time.perf_counter() - start, 2)
    return result


# ---- build contexts that need a token -----------------------------------------------


def locked_context(app: Path, plain: Path, token: str, dest: Path) -> Path:
    """A build context for lesson 09: `app/` copied, `model.enc` locked with `token`, the token in `unlock.token`.

    The token file sits in the context so that a careless Dockerfile can COPY it (the leak the
    lesson shows); a secret mount reads it from outside the image instead.
    """
    import shutil

    dest.mkdir(parents=True, exist_ok=True)
    shutil.copytree(app, dest / "app", dirs_exist_ok=True)
    (dest / "model.enc").write_bytes(lock(plain.read_bytes(), token))
    (dest / "unlock.token").write_text(token + "\n", encoding="utf-8")
    return dest


class Replant(LayerlabError, ValueError):
    pass


def replant(folder: Path, token_file: str, locked: list[str], token: str) -> None:
    """Put a new `token` in `folder`: the token file, and each locked file re-locked for it (grading plants its own)."""
    old = (folder / token_file).read_text(encoding="utf-8").strip()
    for name in locked:
        p = folder / name
        try:
            plain = unlock(p.read_bytes(), old)
        except (OSError, ValueError) as e:
            raise Replant(
                f"{name} does not unlock with {token_file} ({e}): keep both as the exercise gave them"
            ) from None
        p.write_bytes(lock(plain, token))
    (folder / token_file).write_text(token + "\n", encoding="utf-8")


# Lessons record and replay their scans; the grader calls the live ones, which never replay.
scan_image = replay.replayable("leaks", _key, Scan)(scan_image_live)
scan_pushed = replay.replayable("leaks", lambda ref, token, **kw: "pushed|" + _key(ref, token), Scan)(scan_pushed_live)
