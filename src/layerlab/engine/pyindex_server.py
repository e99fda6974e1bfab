"""A private Python package index behind a token: PEP 503's simple API, HTTP basic auth, standard library only.

    PYINDEX_TOKEN=... python3 pyindex_server.py WHEEL_DIR [PORT]

This file is what `layerlab.engine.pyindex` runs inside the index's container; the unit
tests run it in a thread. It imports nothing but the standard library, so it runs on
any Python 3 image, the stand-ins included.

Every request must carry the token as the password of HTTP basic auth (pip sends the
credentials of the index URL, `http://__token__:TOKEN@host/simple/`, that way); any user
name is accepted, as on the hosted indexes that use `__token__`. The log names each
request's path and status, never a credential, because the log is shown to learners.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import os
import re
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

PORT = 8080
TOKEN_ENV = "PYINDEX_TOKEN"
READY = "pyindex: serving"  # the line the engine layer waits for before a build may ask


def normalise(name: str) -> str:
    """PEP 503's normalised project name: `Churn_Score` and `churn.score` are `churn-score`."""
    return re.sub(r"[-_.]+", "-", name).lower()


def project_of(wheel: str) -> str:
    """The project a wheel file belongs to: its name up to the first '-' (PEP 427), normalised."""
    return normalise(wheel.split("-", 1)[0])


def authorised(header: str | None, token: str) -> bool:
    """Whether an Authorization header carries `token` as its basic-auth password."""
    if not token or not header or not header.startswith("Basic "):
        return False
    try:
        _, _, password = base64.b64decode(header[6:], validate=True).decode("utf-8").partition(":")
    except (ValueError, UnicodeDecodeError):
        return False
    return hmac.compare_digest(password.encode(), token.encode())


def project_page(project: str, wheels: dict[str, bytes]) -> str:
    """The simple page of one project: a link per file, with its sha256 for pip to check (PEP 503)."""
    links = "".join(
        f'<a href="/files/{html.escape(name)}#sha256={hashlib.sha256(data).hexdigest()}">{html.escape(name)}</a><br>\n'
        for name, data in sorted(wheels.items())
        if project_of(name) == project
    )
    return f"<!DOCTYPE html>\n<html><body>\n<h1>Links for {html.escape(project)}</h1>\n{links}</body></html>\n"


def root_page(wheels: dict[str, bytes]) -> str:
    projects = sorted({project_of(n) for n in wheels})
    links = "".join(f'<a href="/simple/{p}/">{p}</a><br>\n' for p in projects)
    return f"<!DOCTYPE html>\n<html><body>\n{links}</body></html>\n"


def make_handler(wheels: dict[str, bytes], token: str, log: list[str] | None = None) -> type[BaseHTTPRequestHandler]:
    """A request handler serving `wheels` (file name -> bytes) to whoever has `token`."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
            status, body, kind = self._answer()
            self.send_response(status)
            if status == 401:
                self.send_header("WWW-Authenticate", 'Basic realm="layerlab private index"')
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _answer(self) -> tuple[int, bytes, str]:
            if not authorised(self.headers.get("Authorization"), token):
                return 401, b"a token is needed: http://__token__:TOKEN@host/simple/\n", "text/plain"
            path = self.path.split("?", 1)[0]
            if path in ("/simple", "/simple/"):
                return 200, root_page(wheels).encode(), "text/html"
            if m := re.fullmatch(r"/simple/([^/]+)/?", path):
                project = normalise(m[1])
                if any(project_of(n) == project for n in wheels):
                    return 200, project_page(project, wheels).encode(), "text/html"
            if (m := re.fullmatch(r"/files/([^/]+)", path)) and m[1] in wheels:
                return 200, wheels[m[1]], "application/octet-stream"
            return 404, b"not on this index\n", "text/plain"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's signature
            # Path and status only: the request line never holds the token (pip sends it in a header).
            line = f"pyindex: {self.command} {self.path.split('?', 1)[0]} {args[1] if len(args) > 1 else ''}"
            if log is not None:
                log.append(line)
            print(line, flush=True)

    return Handler


def serve(folder: Path, token: str, port: int = PORT, host: str = "0.0.0.0") -> ThreadingHTTPServer:  # noqa: S104
    """A server (not yet serving) for the wheels in `folder`."""
    wheels = {p.name: p.read_bytes() for p in sorted(folder.glob("*.whl"))}
    return ThreadingHTTPServer((host, port), make_handler(wheels, token))


def main(argv: list[str]) -> None:
    token = os.environ.get(TOKEN_ENV, "")
    if not token:
        sys.exit(f"pyindex: set {TOKEN_ENV}: an index without a token would serve anyone")
    server = serve(Path(argv[0]), token, int(argv[1]) if len(argv) > 1 else PORT)
    print(f"{READY} {len(list(Path(argv[0]).glob('*.whl')))} wheel(s) on port {server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
