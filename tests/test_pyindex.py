"""The private package index of exercise 09-ship, without an engine: its server in a thread, the wheel it
serves, and the pip.conf a secret mount hands to pip. pip itself installs from it, as a build step would."""

from __future__ import annotations

import base64
import subprocess
import sys
import threading
import urllib.error
import urllib.request
import zipfile
from io import BytesIO

import pytest

from layerlab.engine import pyindex
from layerlab.engine import pyindex_server as server


@pytest.fixture
def index(tmp_path):
    """The index server on a free port of 127.0.0.1, serving the course's wheels to the token it yields."""
    folder = tmp_path / "wheels"
    folder.mkdir()
    for name, data in pyindex.wheels().items():
        (folder / name).write_bytes(data)
    token = "llt_" + "5e" * 16
    httpd = server.serve(folder, token, port=0, host="127.0.0.1")
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{httpd.server_port}", token
    finally:
        httpd.shutdown()
        httpd.server_close()


def _get(url, token=None):
    req = urllib.request.Request(url)
    if token is not None:
        req.add_header("Authorization", "Basic " + base64.b64encode(f"__token__:{token}".encode()).decode())
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_the_wheel_is_the_same_bytes_every_time_and_its_record_is_right():
    first, second = pyindex.wheels(), pyindex.wheels()
    assert first == second and list(first) == ["churnscore-1.0.0-py3-none-any.whl"]
    z = zipfile.ZipFile(BytesIO(first["churnscore-1.0.0-py3-none-any.whl"]))
    record = z.read("churnscore-1.0.0.dist-info/RECORD").decode().splitlines()
    init = next(line for line in record if line.startswith("churnscore/__init__.py,"))
    assert init.split(",")[1] == "sha256=" + pyindex._b64_sha256(z.read("churnscore/__init__.py"))
    assert {i.date_time for i in z.infolist()} == {pyindex.EPOCH}


def test_without_the_token_the_index_answers_401_and_with_it_a_pep503_page(index):
    host, token = index
    assert _get(f"http://{host}/simple/churnscore/")[0] == 401
    assert _get(f"http://{host}/simple/churnscore/", "llt_wrong")[0] == 401
    status, page = _get(f"http://{host}/simple/ChurnScore/", token)  # PEP 503: any case
    assert status == 200 and b'href="/files/churnscore-1.0.0-py3-none-any.whl#sha256=' in page
    assert _get(f"http://{host}/simple/numpy/", token)[0] == 404
    status, body = _get(f"http://{host}/files/churnscore-1.0.0-py3-none-any.whl", token)
    assert status == 200 and body == pyindex.wheels()["churnscore-1.0.0-py3-none-any.whl"]


def test_names_are_normalised_as_pep503_says():
    assert server.normalise("Churn_Score.x") == "churn-score-x"
    assert server.project_of("churnscore-1.0.0-py3-none-any.whl") == "churnscore"


def test_a_malformed_authorization_header_is_refused_not_an_error():
    assert not server.authorised("Basic !!!not-base64", "t")
    assert not server.authorised("Bearer t", "t")
    assert not server.authorised(None, "t")
    assert not server.authorised("Basic " + base64.b64encode(b"__token__:").decode(), "")


def test_pip_installs_from_the_index_with_the_pip_conf_and_not_without_it(index, tmp_path):
    host, token = index
    ip, port = host.split(":")
    idx = pyindex.Index(container="test", host=ip, port=int(port), packages=["churnscore"])
    conf = idx.write_pip_conf(token, tmp_path / "conf" / "pip.conf")
    assert conf.stat().st_mode & 0o077 == 0, "a file with the token is its owner's only"
    assert conf.read_text() == (
        f"[global]\nindex-url = http://__token__:{token}@{ip}:{port}/simple/\ntrusted-host = {ip}\n"
    )
    env = {"PIP_CONFIG_FILE": str(conf), "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PATH": "/usr/bin:/bin"}
    pip = [sys.executable, "-m", "pip", "install", "--no-cache-dir", "--target"]
    ok = subprocess.run([*pip, str(tmp_path / "ok"), "churnscore==1.0.0"], env=env, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    scored = subprocess.run(
        [sys.executable, "-c", "import churnscore as c; print(c.MODEL, round(c.score((1, 0, 0)), 2))"],
        env={"PYTHONPATH": str(tmp_path / "ok")},
        capture_output=True,
        text=True,
    )
    assert scored.stdout.strip() == "churn model v7 0.6"
    (tmp_path / "bad.conf").write_text(pyindex.pip_conf(idx.url_with("llt_wrong"), ip))
    bad = subprocess.run(
        [*pip, str(tmp_path / "bad"), "churnscore==1.0.0"],
        env={**env, "PIP_CONFIG_FILE": str(tmp_path / "bad.conf")},
        capture_output=True,
        text=True,
    )
    assert bad.returncode != 0 and "401" in bad.stdout + bad.stderr
    assert "llt_wrong" not in bad.stdout + bad.stderr, "pip does not print the token it was given"


def test_the_build_args_put_the_token_in_the_url_and_the_host_apart():
    idx = pyindex.Index(container="x", host="172.17.0.9", port=8080, packages=["churnscore"])
    assert idx.url == "http://172.17.0.9:8080/simple/"
    assert idx.build_args("tok") == {
        "PIP_INDEX_URL": "http://__token__:tok@172.17.0.9:8080/simple/",
        "PIP_TRUSTED_HOST": "172.17.0.9",
    }


def test_up_keeps_an_index_serving_the_same_token_and_restarts_one_serving_another(engine_client):
    import uuid

    from layerlab.engine import labels

    name = f"layerlab-pyindex-test-{uuid.uuid4().hex[:8]}"
    try:
        first = pyindex.up("llt_first", name=name)
        c = engine_client.container.inspect(name)
        assert c.config.labels[labels.MANAGED] == labels.MANAGED_VALUE, "`layerlab clean` finds it"
        assert "llt_first" not in str(c.config.labels), "the labels hold a digest of the token, not the token"
        assert pyindex.up("llt_first", name=name) == first and engine_client.container.inspect(name).id == c.id
        pyindex.up("llt_second", name=name)
        assert engine_client.container.inspect(name).id != c.id, "another token: a fresh container"
    finally:
        assert pyindex.down(name)
    assert not pyindex.down(name)
