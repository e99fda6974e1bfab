"""The serving library's maths and guards, without an engine: percentiles, throughput, loopback only, replay round trip."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from layerlab.measure import serving


def test_summarize_uses_numpys_percentiles_and_counts_throughput_over_wall_time():
    lat = [i / 1000 for i in range(1, 101)]  # 1..100 ms
    s = serving.summarize(lat, seconds=2.0, errors=3, concurrency=4)
    assert s.requests == 100 and s.errors == 3 and s.rps == 50
    assert s.p50_ms == pytest.approx(np.percentile(np.arange(1, 101), 50))
    assert s.p99_ms == pytest.approx(99.01)
    assert "p99 99.0 ms" in s.line() and "3 errors" in s.line()


def test_summarize_of_nothing_answered_has_no_percentiles():
    s = serving.summarize([], seconds=1.0, errors=5)
    assert s.requests == 0 and s.p50_ms is None and "no request answered" in s.line()


@pytest.mark.parametrize("url", ["http://10.0.0.1:8000/", "http://example.com/predict", "http://0.0.0.0:80/"])
def test_load_never_leaves_this_machine(url):
    with pytest.raises(ValueError, match="127.0.0.1 only"):
        serving.bounded_load(url, requests=1)


class _Echo(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - the stdlib's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        data = json.dumps({"n": len(json.loads(body)["rows"])}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def local_server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


def test_bounded_load_sends_exactly_the_requests_asked_for(local_server):
    s = serving.bounded_load(
        local_server + "/predict", method="POST", body={"rows": [[1, 2, 3]]}, requests=40, concurrency=4
    )
    assert s.requests == 40 and s.errors == 0 and not s.capped and len(s.latencies_ms) == 40
    assert s.p50_ms <= s.p95_ms <= s.p99_ms


def test_the_warm_up_is_sent_first_and_kept_out_of_the_measured_load(local_server):
    warm, measured = serving.warm_load(
        local_server,
        {"path": "/predict", "method": "POST", "body": {"rows": [[1]]}, "requests": 30, "concurrency": 3, "warmup": 12},
    )
    assert warm is not None and warm.requests == 12 and measured.requests == 30 and len(measured.latencies_ms) == 30
    assert serving.warm_load(local_server, {"path": "/predict", "requests": 5})[0] is None


def test_bounded_load_stops_at_its_time_cap(local_server):
    s = serving.bounded_load(
        local_server + "/predict", method="POST", body={"rows": [[1]]}, requests=10**7, concurrency=2, time_cap_s=0.5
    )
    assert s.capped and s.seconds < 3


def test_refused_connections_count_as_errors_not_exceptions():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    port = srv.server_address[1]
    srv.server_close()  # nothing listens there now
    s = serving.bounded_load(f"http://127.0.0.1:{port}/", requests=5, concurrency=1, timeout_s=1)
    assert s.requests == 0 and s.errors == 5


def test_a_serve_result_round_trips_through_json():
    r = serving.ServeResult(
        image="i",
        options={"init": True},
        started=True,
        first_ok_s=0.5,
        healthy_s=1.2,
        load=serving.summarize([0.01, 0.02], 1.0),
        inflight=serving.Response(status=200, body="ok", error="", seconds=0.5),
        stop_s=0.4,
    )
    back = serving.ServeResult.model_validate(json.loads(r.model_dump_json()))
    assert back == r and back.serving and back.inflight_answered


def test_the_health_log_warm_up_and_readiness_round_trip_through_json():
    probes = [
        serving.HealthProbe(start="t0", end="t1", exit_code=1),
        serving.HealthProbe(start="t2", end="t3", exit_code=0),
    ]
    r = serving.ServeResult(
        image="i",
        options={"cpuset_cpus": [0]},
        started=True,
        ready_s=2.5,
        health_log=probes,
        warmup=serving.summarize([0.01], 1.0),
        load=serving.summarize([0.02], 1.0),
    )
    assert serving.ServeResult.model_validate(json.loads(r.model_dump_json())) == r


def test_replay_keys_name_only_the_options_given():
    assert serving._key("img", init=False, read_only=True, module="07") == "img|{'read_only': True}"


class _Event:
    def __init__(self, action, t, signal=None):
        self.action, self.time_nano = action, int(t * 1e9)
        self.actor = type("A", (), {"attributes": {"signal": signal} if signal else {}})()


class _Client:
    def __init__(self, events):
        self.system = type("S", (), {"events": lambda _self, **kw: iter(events)})()


def test_stop_time_is_read_from_the_engines_events_sigterm_to_stop():
    from datetime import datetime

    from layerlab.engine import containers

    events = [_Event("kill", 100.0, "15"), _Event("kill", 110.0, "9"), _Event("stop", 110.2), _Event("die", 110.3)]
    seconds, signals = containers.stop_events(_Client(events), "c", datetime.now())
    assert seconds == pytest.approx(10.2) and signals == ["15", "9"]
    assert containers.stop_events(_Client([_Event("kill", 1.0, "15")]), "c", datetime.now()) == (None, ["15"])
