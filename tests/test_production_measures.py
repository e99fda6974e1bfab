"""Lesson 10's readers: the app's phase marks, the loader's and the BLAS reports, zstd layers, a build's digest."""

from __future__ import annotations

import io
import json
import tarfile

import pytest
import zstandard

from layerlab.course import challenges
from layerlab.engine import build
from layerlab.engine.containers import RunResult
from layerlab.measure import coldstart, oci, shm, threads


def run(output: str, exit_code: int = 0, **kw) -> RunResult:
    return RunResult(
        image="layerlab/10-outside:lesson", command=[], exit_code=exit_code, output=output, seconds=1.0, **kw
    )


def marks_output(start: float) -> str:
    lines = [{"event": e, "t": start + dt} for e, dt in (("start", 0.05), ("imported", 0.3), ("loaded", 1.8))]
    lines.append({"event": "answer", "t": start + 1.85, "output": [1.0, 2.0, 3.0]})
    return "\n".join(["some warning"] + [json.dumps(l) for l in lines]) + "\n"


def test_a_run_is_cut_into_phases_that_add_up_to_created_through_the_first_answer():
    r = run(marks_output(100.0), created_at=99.5, started_at=100.0)
    phases = coldstart.container_phases(r)
    assert [p.name for p in phases] == ["create", "interpreter", "imports", "weights", "first answer"]
    assert sum(p.seconds for p in phases) == pytest.approx(2.35)
    assert dict((p.name, p.seconds) for p in phases)["weights"] == pytest.approx(1.5)


def test_a_run_without_its_marks_is_named_not_guessed():
    with pytest.raises(coldstart.MissingMark, match="loaded, answer"):
        coldstart.container_phases(
            run('{"event": "start", "t": 1}\n{"event": "imported", "t": 2}', created_at=0.5, started_at=0.9)
        )


def test_a_cold_start_puts_the_pull_first_and_counts_its_bytes():
    pulled = coldstart.Pull(
        ref="localhost:5000/x:gzip",
        layers=[
            coldstart.LayerPull(
                digest="sha256:a", compression="gzip", bytes=300, download_seconds=0.5, unpack_seconds=1.0
            ),
            coldstart.LayerPull(
                digest="sha256:b", compression="gzip", bytes=10, download_seconds=0.1, unpack_seconds=0.2
            ),
        ],
    )
    c = coldstart.cold_start("gzip", pulled, run(marks_output(10.0), created_at=9.9, started_at=10.0))
    assert [p.name for p in c.phases[:2]] == ["download", "unpack"] and c.pull_bytes == 310
    assert c.phase("unpack") == pytest.approx(1.2) and pulled.largest.digest == "sha256:a"
    assert c.line().startswith("gzip: ") and "0 MB pulled" in c.line()


def _layer_tar() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        data = b"weights" * 1000
        info = tarfile.TarInfo("weights/model.npy")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_zstd_layers_are_read_as_their_tar(tmp_path):
    plain = _layer_tar()
    blob = tmp_path / "layer.zst"
    blob.write_bytes(zstandard.ZstdCompressor().compress(plain))
    with blob.open("rb") as raw:
        assert coldstart._compression(raw.read(4)) == "zstd"
        raw.seek(0)
        assert oci.uncompressed(raw, "sha256:x").read() == plain
    coldstart._unpack(blob, "sha256:x", tmp_path / "root")
    assert (tmp_path / "root" / "weights" / "model.npy").read_bytes() == b"weights" * 1000


LOADER_FAIL = json.dumps(
    {
        "workers": 4,
        "prefetch": 2,
        "batch_bytes": 16 << 20,
        "shm_bytes": 64 << 20,
        "needed_bytes": 128 << 20,
        "ok": False,
        "checksum": 0.0,
        "error": "loader worker 0 was killed by SIGBUS: /dev/shm (64 MiB) is smaller than ...",
    }
)


def test_the_loader_report_says_why_it_failed_and_what_it_needed():
    r = shm.read("default", run("warning\n" + LOADER_FAIL, exit_code=1))
    assert not r.ok and "SIGBUS" in r.error and r.needed_bytes == 128 << 20 and r.shm_bytes == 64 << 20
    assert "fails: loader worker 0" in r.line()


def test_a_loader_that_printed_nothing_fails_with_its_last_line():
    r = shm.read("--shm-size=80m", run("Traceback ...\nOSError: [Errno 28] No space left on device", exit_code=1))
    assert not r.ok and r.error == "OSError: [Errno 28] No space left on device" and r.needed_bytes is None


def test_the_smallest_working_size_stops_at_the_first_that_works():
    asked = []

    def attempt(mib: int) -> shm.LoaderRun:
        asked.append(mib)
        return shm.LoaderRun(shm_option=f"{mib}m", ok=mib >= 144, exit_code=0 if mib >= 144 else 1)

    smallest, tried = shm.smallest_working([160, 64, 128, 144, 256], attempt)
    assert smallest == 144 and asked == [64, 128, 144] and len(tried) == 3
    assert shm.smallest_working([64], attempt)[0] is None


def test_the_thread_report_sizes_threads_from_the_quota():
    line = json.dumps(
        {"cpu_count": 16, "quota": 1.5, "omp_num_threads": None, "blas": "openblas", "threads": 16, "seconds": 0.8}
    )
    r = threads.read("default", run("noise\n" + line))
    assert r.threads == 16 and r.sized == 1
    assert threads.read("x", run(line.replace('"quota": 1.5', '"quota": null'))).sized == 16
    with pytest.raises(threads.NoReport, match="exit 137"):
        threads.read("default", run("Killed", exit_code=137))


def test_the_shm_challenge_refuses_an_answer_that_is_not_a_size_without_an_engine():
    out = challenges.check("10-shm-size", "lots", image="layerlab/10-outside:lesson")
    assert out.passed is False and "not a size in MiB" in out.text
    assert challenges.check("10-shm-size", None, image="x").passed is None


def test_a_builds_exported_digest_comes_from_buildx_metadata(tmp_path):
    meta = tmp_path / "metadata.json"
    meta.write_text(json.dumps({"containerimage.digest": "sha256:" + "a" * 64, "image.name": "x"}))
    assert build._exported_digest(meta) == "sha256:" + "a" * 64
    meta.write_text("not json")
    assert build._exported_digest(meta) is None
    assert build._exported_digest(tmp_path / "absent.json") is None
