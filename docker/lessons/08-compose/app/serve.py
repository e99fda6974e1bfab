"""The model API: /health, /predict?x=..., plus /hits to show what per-process state does when scaled.

Standard library only. With REDIS_HOST set it caches predictions in redis,
spoken to in redis's own wire protocol (RESP) over a socket.
"""

import json
import os
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

MODEL = Path(os.environ.get("MODEL_DIR", "/models")) / "model.json"
REDIS = os.environ.get("REDIS_HOST")

if not MODEL.exists():
    print(f"serve: no model at {MODEL}, exiting", flush=True)
    sys.exit(1)
model = json.loads(MODEL.read_text())
hits = 0  # lives in this process only
lock = threading.Lock()


def redis(*args: str) -> bytes:
    """One command, one reply line (enough for GET, SET and INCR)."""
    with socket.create_connection((REDIS, 6379), timeout=2) as s, s.makefile("rb") as r:
        s.sendall(f"*{len(args)}\r\n".encode() + b"".join(f"${len(a.encode())}\r\n{a}\r\n".encode() for a in args))
        reply = r.readline().rstrip(b"\r\n")
        if reply.startswith(b"$"):  # a bulk string: its bytes follow on the next line ($-1: none)
            return r.readline().rstrip(b"\r\n") if reply != b"$-1" else b""
        return reply


class Handler(BaseHTTPRequestHandler):
    def send(self, status: int, body: dict, **headers: str) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for k, v in headers.items():
            self.send_header(k.replace("_", "-"), v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        global hits
        url = urlparse(self.path)
        if url.path == "/health":
            return self.send(200, {"status": "ok"})
        if url.path == "/hits":
            with lock:
                hits += 1
                mine = hits
            shared = int(redis("INCR", "hits").lstrip(b":")) if REDIS else None
            return self.send(200, {"host": socket.gethostname(), "process": mine, "shared": shared})
        if url.path == "/predict":
            try:
                x = float(parse_qs(url.query)["x"][0])
            except (KeyError, ValueError):
                return self.send(400, {"error": "pass a number: /predict?x=2.5"})
            cached = redis("GET", f"y:{x}") if REDIS else b""
            if cached:
                return self.send(200, {"x": x, "y": float(cached)}, X_Cache="hit")
            y = round(model["slope"] * x + model["intercept"], 4)
            if REDIS:
                redis("SET", f"y:{x}", str(y))
            return self.send(200, {"x": x, "y": y}, X_Cache="miss" if REDIS else "none")
        self.send(404, {"error": "try /health or /predict?x=2.5"})

    def log_message(self, *args) -> None:  # one line per request is noise in `compose logs`
        pass


print(f"serve: model {model} loaded; listening on :8000", flush=True)
ThreadingHTTPServer(("", 8000), Handler).serve_forever()
