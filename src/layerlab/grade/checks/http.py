"""`http_endpoint`: the container answers an HTTP GET with the expected status."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from layerlab.course.checkspec import CheckBase
from .base import Context, Failed, check, excerpt


class HttpEndpoint(CheckBase):
    check: Literal["http_endpoint"]
    port: int = Field(gt=0, lt=65536, description="the port the container listens on")
    path: str = "/"
    status: int = Field(default=200, description="the HTTP status expected")
    wait_s: float = Field(gt=0, default=20, description="how long the server may take to answer")


@check(HttpEndpoint)
def http_endpoint(ctx: Context, spec: HttpEndpoint) -> str:
    s = ctx.need_subject()
    status, body, log = s.session.http_get(s.tag, spec.port, spec.path, wait_s=spec.wait_s)
    if status is None:
        hint = "the server must listen on 0.0.0.0 (not 127.0.0.1) and on the port the exercise names"
        if log.startswith("the container did not start"):
            hint = log.rpartition("hint: ")[2] or hint
        raise Failed(f"nothing answered on port {spec.port} within {spec.wait_s:.0f} s\n{excerpt(log)}", hint)
    if status != spec.status:
        raise Failed(f"GET {spec.path} answered {status}, expected {spec.status}", "the route or the app's start-up is wrong")
    return f"GET {spec.path} answered {status}"

