"""measure.repro: two saved images compared file by file say why their digests differ, on handmade archives
whose differences are known."""

from __future__ import annotations

from layerlab.measure import repro
from ocitar import write_image

APP = [("/app", "dir", None), ("/app/serve.py", "file", b"print('hi')\n")]
DEPS = [("/opt/site", "dir", None), ("/opt/site/mod.py", "file", b"x = 1\n")]
STEPS = ["ADD rootfs.tar /", "RUN pip install", "COPY serve.py /app/"]
BASE = [("/etc", "dir", None), ("/etc/os-release", "file", b"trixie\n")]


def saved(tmp_path, name, layers=(BASE, DEPS, APP), **kw):
    return write_image(tmp_path / f"{name}.tar", list(layers), created_by=STEPS, **kw)


def test_the_same_build_twice_is_identical(tmp_path):
    c = repro.compare(saved(tmp_path, "a"), saved(tmp_path, "b"))
    assert c.identical and c.config == [] and all(layer.same_digest for layer in c.layers)
    assert c.summary().endswith(f"identical ({c.first_digest[:19]})")


def test_timestamps_show_up_as_mtime_only_files_and_created_fields(tmp_path):
    a = saved(tmp_path, "a", mtime=1_700_000_000, created="2026-12-02T10:00:00Z")
    b = saved(tmp_path, "b", mtime=1_700_000_600, created="2026-12-02T10:10:00Z")
    c = repro.compare(a, b)
    assert not c.identical
    assert {f.change for f in c.files()} == {"mtime only"}
    assert len(c.files()) == len(BASE) + len(DEPS) + len(APP)
    assert {d.field for d in c.config} == {"created", "history[0].created", "history[1].created", "history[2].created"}
    assert c.summary().splitlines()[-3:] == [
        "  layer 0 (ADD rootfs.tar /): 2 mtime only",
        "  layer 1 (RUN pip install): 2 mtime only",
        "  layer 2 (COPY serve.py /app/): 2 mtime only",
    ]


def test_changed_bytes_are_content_and_only_that_layer_differs(tmp_path):
    pyc = [("/opt/site", "dir", None), ("/opt/site/mod.py", "file", b"x = 1\n")]
    pyc_b = [("/opt/site", "dir", None), ("/opt/site/mod.py", "file", b"x = 2\n"), ("/opt/site/new.pyc", "file", b"\0")]
    c = repro.compare(saved(tmp_path, "a", (BASE, pyc, APP)), saved(tmp_path, "b", (BASE, pyc_b, APP)))
    assert [layer.same_digest for layer in c.layers] == [True, False, True]
    assert [(f.path, f.change) for f in c.files()] == [
        ("/opt/site/mod.py", "content"),
        ("/opt/site/new.pyc", "only in second"),
    ]
    assert c.layers[1].created_by == "RUN pip install"


def test_a_different_compressor_changes_the_digest_and_no_file(tmp_path):
    c = repro.compare(saved(tmp_path, "a", gzip_level=9), saved(tmp_path, "b", gzip_level=1))
    assert not c.identical and c.files() == []
    assert all(layer.same_files for layer in c.layers)
    assert "same files, different compression" in c.summary()


def _pyc(source_mtime: int, code: bytes = b"\xe3code") -> bytes:
    # PEP 552 header: magic, flags 0 (timestamp-based), the source's mtime and size; then the marshalled code.
    return b"\xf3\r\r\n" + bytes(4) + source_mtime.to_bytes(4, "little") + (6).to_bytes(4, "little") + code


def test_a_pyc_that_differs_only_in_its_recorded_source_mtime_is_a_timestamp(tmp_path):
    site = [("/opt/site", "dir", None), ("/opt/site/__pycache__/mod.cpython-313.pyc", "file", _pyc(1_700_000_000))]
    again = [("/opt/site", "dir", None), ("/opt/site/__pycache__/mod.cpython-313.pyc", "file", _pyc(1_700_000_600))]
    other = [("/opt/site", "dir", None), ("/opt/site/__pycache__/mod.cpython-313.pyc", "file", _pyc(1, b"\xe3edit"))]
    base = saved(tmp_path, "a", (BASE, site, APP))
    assert [(f.path, f.change) for f in repro.compare(base, saved(tmp_path, "b", (BASE, again, APP))).files()] == [
        ("/opt/site/__pycache__/mod.cpython-313.pyc", "pyc source mtime")
    ]
    assert [f.change for f in repro.compare(base, saved(tmp_path, "c", (BASE, other, APP))).files()] == ["content"]
