"""Load the model's weights, answer one prediction, and say when each phase ended.

One JSON line per phase on stdout, stamped with the wall clock: the container shares the host's
kernel and so its clock, which lets the lesson line these up with the engine's own events.
Where the weights come from is the deployment's choice, read from the environment:
- WEIGHTS_REF=host:port/name@sha256:... : an OCI artifact in a registry, pulled by digest at start;
- WEIGHTS=/path/model.npy (default /weights/model.npy): a file, baked into the image or mounted.
"""

import time

STARTED = time.time()  # the interpreter is up; its own start-up came before this line

import hashlib  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import urllib.request  # noqa: E402

MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def mark(event: str, t: float | None = None, **facts: object) -> None:
    print(json.dumps({"event": event, "t": round(t or time.time(), 4), **facts}), flush=True)


def fail(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
    sys.exit(3)


def get(url: str, accept: str | None = None) -> bytes:
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(request, timeout=60) as answer:
        return answer.read()


def pulled(ref: str) -> bytes:
    """The artifact's one layer, by digest, through the registry's HTTP API; each digest is checked."""
    if "@sha256:" not in ref:
        fail(f"WEIGHTS_REF={ref} names no digest: pin it as host:port/name@sha256:..., a tag can move")
    where, digest = ref.split("@", 1)
    host, name = where.split("/", 1)
    manifest = get(f"http://{host}/v2/{name}/manifests/{digest}", MANIFEST)
    if "sha256:" + hashlib.sha256(manifest).hexdigest() != digest:
        fail(f"the registry's manifest for {ref} does not match its digest")
    layer = json.loads(manifest)["layers"][0]["digest"]
    blob = get(f"http://{host}/v2/{name}/blobs/{layer}")
    if "sha256:" + hashlib.sha256(blob).hexdigest() != layer:
        fail(f"the weights pulled for {ref} do not match their digest")
    return blob


def weights() -> bytes:
    ref = os.environ.get("WEIGHTS_REF")
    if ref:
        return pulled(ref)
    path = os.environ.get("WEIGHTS", "/weights/model.npy")
    if not os.path.isfile(path):
        fail(f"no weights at {path}: mount them there (docker run -v VOLUME:/weights) or set WEIGHTS_REF")
    with open(path, "rb") as fh:
        return fh.read()


mark("start", STARTED)
import numpy as np  # noqa: E402

mark("imported")
data = weights()
w = np.load(io.BytesIO(data))
mark("loaded", bytes=len(data), sha256=hashlib.sha256(data).hexdigest())
x = np.linspace(-1.0, 1.0, w.shape[0], dtype=np.float32)
y = x @ w
mark("answer", output=[round(float(v), 3) for v in y[:3]])
