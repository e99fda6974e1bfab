"""A private Python package index for exercise 09-ship: a package that only a build holding the token can install.

`up(token)` starts one labelled container (`layerlab clean` removes it) on the
python:3.13-slim base, running `pyindex_server.py`: PEP 503's simple API behind
HTTP basic auth, serving the wheels the course builds itself (`wheels()`, byte
for byte the same on every machine). A build reaches it at the container's
address on the engine's default bridge (`Index.url`): BuildKit's RUN steps can,
and nothing is published on the host. pip asks a plain-HTTP index only when it
is told to trust its host, so `pip_conf()` says both.

The grader starts its own index for each grading, with a token of its own and
the grading's labels (grade/submission.py), so the grading removes it with
everything else it made.
"""

from __future__ import annotations

import base64
import hashlib
import tempfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from python_on_whales import Container
from python_on_whales.exceptions import DockerException, NoSuchContainer

from layerlab import engine
from layerlab.engine import catalogue, containers, labels
from layerlab.engine.result import Result
from layerlab.ground.errors import LayerlabError
from layerlab.ground.text import error_text, last_line

from . import pyindex_server as server

CONTAINER = "layerlab-pyindex"
ROLE = "org.layerlab.role"
# A digest of the token, never the token: `up` restarts an index that serves another one.
TOKEN_LABEL = "org.layerlab.pyindex.token-sha256"
USER = "__token__"  # the user name hosted indexes use with a token as the password
SERVER_PATH = "/srv/pyindex_server.py"
WHEELS_PATH = "/srv/wheels"
# The zip entries' time stamp (the earliest a zip can hold): the same wheel, byte for byte, on every build.
EPOCH = (1980, 1, 1, 0, 0, 0)

# The team's package that exercise 09-ship's app needs: on the private index and nowhere else.
CHURNSCORE_VERSION = "1.0.0"
CHURNSCORE = '''"""churnscore: the team's churn model, from its private package index."""

__version__ = "1.0.0"
MODEL = "churn model v7"
WEIGHTS = (0.8, -1.3, 0.45)
BIAS = -0.2


def score(features):
    """The churn score of one customer's (tenure, usage, complaints) features."""
    return sum(w * x for w, x in zip(WEIGHTS, features)) + BIAS
'''


class PyIndexError(LayerlabError, RuntimeError):
    """The index did not start or answer; the message says why and what to do."""


class Index(Result):
    """A running index: where a build finds it. The token is not kept here: results get printed."""

    container: str
    host: str  # the container's address on the engine's bridge: what pip must be told to trust
    port: int
    packages: list[str]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/simple/"

    def url_with(self, token: str) -> str:
        """The index URL with the token in it: what a careless Dockerfile passes as PIP_INDEX_URL."""
        return f"http://{USER}:{token}@{self.host}:{self.port}/simple/"

    def pip_conf(self, token: str) -> str:
        return pip_conf(self.url_with(token), self.host)

    def build_args(self, token: str, url_arg: str = "PIP_INDEX_URL") -> dict[str, str]:
        """pip's settings as build arguments (pip reads PIP_* variables): the way that leaks the token."""
        return {url_arg: self.url_with(token), "PIP_TRUSTED_HOST": self.host}

    def write_pip_conf(self, token: str, path: Path) -> Path:
        """Write the pip.conf a secret mount hands to pip, readable by its owner only."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600, exist_ok=True)
        path.write_text(self.pip_conf(token), encoding="utf-8")
        return path


def pip_conf(index_url: str, trusted_host: str) -> str:
    """A pip configuration that installs from `index_url` only (no PyPI), trusting its plain-HTTP host."""
    return f"[global]\nindex-url = {index_url}\ntrusted-host = {trusted_host}\n"


def wheel(name: str, version: str, files: dict[str, str], summary: str = "") -> tuple[str, bytes]:
    """A pure-Python wheel (file name, bytes) holding `files` (path -> text), the same bytes every time."""
    dist = f"{name}-{version}.dist-info"
    entries = dict(sorted(files.items()))
    entries[f"{dist}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: {summary}\nRequires-Python: >=3.9\n"
    )
    entries[f"{dist}/WHEEL"] = "Wheel-Version: 1.0\nGenerator: layerlab\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    record = [f"{path},sha256={_b64_sha256(text.encode())},{len(text.encode())}" for path, text in entries.items()]
    entries[f"{dist}/RECORD"] = "\n".join([*record, f"{dist}/RECORD,,"]) + "\n"
    out = tempfile.SpooledTemporaryFile()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for path, text in entries.items():
            info = zipfile.ZipInfo(path, date_time=EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, text)
    out.seek(0)
    return f"{name}-{version}-py3-none-any.whl", out.read()


def _b64_sha256(data: bytes) -> str:
    # RECORD's hash form (PEP 376/427): urlsafe base64 without padding
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def wheels() -> dict[str, bytes]:
    """The wheels the course's index serves."""
    name, data = wheel(
        "churnscore",
        CHURNSCORE_VERSION,
        {"churnscore/__init__.py": CHURNSCORE},
        "the team's churn model (layerlab exercise 09-ship)",
    )
    return {name: data}


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def _find(name: str) -> Container | None:
    try:
        return engine.require().container.inspect(name)
    except (NoSuchContainer, DockerException):
        return None


def _address(c: Container) -> str:
    ns = c.network_settings
    if ns.ip_address:
        return str(ns.ip_address)
    # Not on the default bridge (an engine configured otherwise): the first network's address.
    return next((str(n.ip_address) for n in (ns.networks or {}).values() if n.ip_address), "")


def up(
    token: str,
    *,
    name: str = CONTAINER,
    module: str = "09",
    extra_labels: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> Index:
    """Start the index serving `token` (or keep the one running that serves it) and wait until it answers."""
    client = engine.require()
    found = _find(name)
    if found is not None:
        if found.state.running and (found.config.labels or {}).get(TOKEN_LABEL) == _token_digest(token):
            return _ready(found, name, timeout)
        client.container.remove(found, force=True)  # stopped, or serving another token: start afresh
    try:
        c = client.container.create(
            catalogue.PYTHON_SLIM.ref,
            ["python3", SERVER_PATH, WHEELS_PATH, str(server.PORT)],
            name=name,
            envs={server.TOKEN_ENV: token},
            labels={
                **labels.course_labels(module),
                **(extra_labels or {}),
                ROLE: "pyindex",
                TOKEN_LABEL: _token_digest(token),
            },
            user="65534",  # nobody: it only reads what was copied in
            pull="never",
        )
        # Copied in, not bind-mounted: a bind mount names a path on the engine's host, which is not
        # this machine's inside the devcontainer.
        with tempfile.TemporaryDirectory(prefix="layerlab-pyindex-") as tmp:
            folder = Path(tmp) / "wheels"
            folder.mkdir()
            for file, data in wheels().items():
                (folder / file).write_bytes(data)
            client.container.copy(Path(server.__file__), (c, SERVER_PATH))
            client.container.copy(folder, (c, WHEELS_PATH))
        client.container.start(c)
    except DockerException as e:
        raise PyIndexError(
            f"the package index did not start: {last_line(error_text(e))}; `layerlab bootstrap` makes "
            f"{catalogue.PYTHON_SLIM.ref}, which it runs on"
        ) from None
    return _ready(c, name, timeout)


def _ready(c: Container, name: str, timeout: float) -> Index:
    client = engine.require()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = client.container.inspect(c)
        if server.READY in containers.logs(client, now) and (host := _address(now)):
            return Index(
                container=name, host=host, port=server.PORT, packages=sorted(server.project_of(n) for n in wheels())
            )
        if not now.state.running:
            break
        time.sleep(0.2)
    log = containers.logs(client, c)[-600:]
    raise PyIndexError(f"the package index {name} did not answer within {timeout:.0f} s; its log ends:\n{log}")


def down(name: str = CONTAINER) -> bool:
    """Remove the index container. True when there was one."""
    c = _find(name)
    if c is None:
        return False
    engine.require().container.remove(c, force=True)
    return True


@contextmanager
def serving(token: str, name: str, extra_labels: dict[str, str] | None = None) -> Iterator[Index]:
    """An index of its own for the length of a `with` block (a test's, a simulated student's), removed after."""
    try:
        yield up(token, name=name, extra_labels=extra_labels)
    finally:
        down(name)
