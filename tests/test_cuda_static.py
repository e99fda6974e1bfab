"""layerlab.measure.cuda's parsers and rules, on recorded text: no engine, no GPU."""

import shutil
from types import SimpleNamespace

import pytest

from layerlab.course import REPO, load
from layerlab.ground.errors import NotFound
from layerlab.measure import cuda, gpu_recording

LDD_OK = """\tlinux-vdso.so.1 (0x00007ffd)
\tlibcudart.so.12 => /lib/x86_64-linux-gnu/libcudart.so.12 (0x00007f1)
\tlibstdc++.so.6 => /lib/x86_64-linux-gnu/libstdc++.so.6 (0x00007f2)
\t/lib64/ld-linux-x86-64.so.2 (0x00007f3)
"""


def test_ldd_lines_become_sonames_with_where_they_resolve():
    assert cuda.parse_ldd(LDD_OK) == {
        "libcudart.so.12": "/lib/x86_64-linux-gnu/libcudart.so.12",
        "libstdc++.so.6": "/lib/x86_64-linux-gnu/libstdc++.so.6",
    }
    missing = cuda.parse_ldd("\tlibcudart.so.12 => not found\n\tlibm.so.6 => /lib/libm.so.6 (0x1)\n")
    assert missing == {"libcudart.so.12": None, "libm.so.6": "/lib/libm.so.6"}
    assert cuda.Ldd("i", "p", missing, "").missing == ["libcudart.so.12"]


def test_sass_runs_within_its_major_version_and_ptx_on_newer_gpus():
    code = cuda.GpuCode(sass=["sm_75", "sm_80", "sm_90"], ptx=["compute_90"], elf_output="", ptx_output="")
    assert code.runs_on(86) == "SASS sm_80"
    assert code.runs_on(90) == "SASS sm_90"
    assert code.runs_on(100).startswith("PTX compute_90")
    assert "NoKernelImage" in cuda.GpuCode(["sm_80"], [], "", "").runs_on(90)
    assert cuda._archs("ELF file    1: saxpy.1.sm_75.cubin\nELF file    2: saxpy.2.sm_90.cubin", "cubin") == [
        "sm_75",
        "sm_90",
    ]


def test_the_driver_rule():
    assert cuda.parse_versions("CUDA runtime 12.4, driver supports CUDA 0.0") == ("12.4", None)
    assert cuda.verdict("12.4", None).startswith("no")
    assert cuda.verdict("12.4", "12.8").startswith("yes")
    assert "minor-version" in cuda.verdict("12.4", "12.0")
    assert "cuda-compat" in cuda.verdict("12.4", "11.4")
    assert cuda.compat_table("12.4", None)[-1]["supports CUDA"] == "none"
    assert cuda.min_driver("12.4") == "550" and cuda.min_driver("12.4", minor_compat=True) == "525"


# NVIDIA's value for 12.4.1 (gitlab.com/nvidia/container-images/cuda, dist/12.4.1/ubuntu2204/base/Dockerfile),
# the brands of each branch; and the one-term value the stand-in carried before, which the lesson's assert refuses.
OFFICIAL_124 = "cuda>=12.4" + "".join(
    f" brand={b},driver>={d},driver<{d + 1}"
    for d in (470, 525, 535)
    for b in (
        "tesla",
        "unknown",
        "nvidia",
        "nvidiartx",
        "geforce",
        "geforcertx",
        "quadro",
        "quadrortx",
        "titan",
        "titanrtx",
    )
)
SHORT = "cuda>=12.4 brand=tesla,driver>=470,driver<471"


def test_the_toolkit_check_ors_spaces_and_ands_commas():
    t535 = cuda.Driver("535.183.01", "12.2", "tesla")
    assert cuda.require_accepts(OFFICIAL_124, t535) and not cuda.require_accepts(SHORT, t535)
    assert cuda.require_accepts(OFFICIAL_124, cuda.Driver("470.256.02", "11.4", "geforce"))
    assert cuda.require_accepts(OFFICIAL_124, cuda.Driver("550.54.15", "12.4", "geforce"))
    # 545 supports CUDA 12.3: minor-version compatible, but not in the list: refused unless NVIDIA_DISABLE_REQUIRE.
    r545 = cuda.Driver("545.29.06", "12.3", "geforce")
    assert not cuda.require_accepts(OFFICIAL_124, r545)
    assert cuda.require_accepts(OFFICIAL_124, r545, disable_require=True)
    assert "unsatisfied condition: cuda>=12.4" in (cuda.require_error(OFFICIAL_124, r545) or "")
    assert not cuda.require_accepts(OFFICIAL_124, cuda.Driver("471.11", "11.4", "tesla"))


def test_cuda_sonames_are_cuda_libraries_by_name_not_by_prefix():
    for name in (
        "libcudart.so.12",
        "libcublasLt.so.12",
        "libnvblas.so.12",
        "libcudnn_ops.so.9",
        "libnppc.so.12",
        "libnvJitLink.so.12",
        "libnvrtc-builtins.so.12",
    ):
        assert cuda.soname(f"/x/{name}") == name
    for name in ("libcurl.so.4", "libcups.so.2", "libnuma.so.1", "libnvidia-ml.so.1"):
        assert cuda.soname(f"/x/{name}") is None


def test_a_gpu_is_asked_for_the_way_the_engine_understands():
    assert cuda.GpuAccess(can=True, why="", via="runtime").run_options() == {"gpus": "all"}
    assert cuda.GpuAccess(can=True, why="", via="cdi").run_options() == {"devices": ["nvidia.com/gpu=all"]}


def test_duplicates_match_cuda_sonames_in_the_image_and_under_site_packages():
    files = {
        "/usr/lib/x86_64-linux-gnu/libcudart.so.12.4.127": 700_000,
        "/usr/lib/x86_64-linux-gnu/libcublasLt.so.12.4.5.8": 500_000_000,
        "/usr/local/lib/python3.13/dist-packages/nvidia/cuda_runtime/lib/libcudart.so.12": 720_000,
        "/usr/local/lib/python3.13/dist-packages/nvidia/cublas/lib/libcublasLt.so.12": 510_000_000,
        "/usr/local/lib/python3.13/dist-packages/nvidia/cublas/lib/libnvblas.so.12": 700_000,
        "/usr/lib/x86_64-linux-gnu/libstdc++.so.6.0.33": 2_000_000,
    }
    d = cuda.duplicates(SimpleNamespace(ref="x", files=files))
    assert d.twice == {"libcudart.so.12": 720_000, "libcublasLt.so.12": 510_000_000}
    assert d.duplicated_bytes == 510_720_000 and "libstdc++.so.6" not in d.system
    assert (
        cuda.duplicates(SimpleNamespace(ref="slim", files={k: v for k, v in files.items() if "packages" in k})).twice
        == {}
    )


def test_module_06_needs_the_cuda_images_and_no_earlier_module_does():
    c = load()
    assert "cuda" in c.module("06").needs
    assert all("cuda" not in m.needs for m in c.modules if m.id < "06")


def test_a_named_and_unpacked_image_survives_buildkits_late_not_found():
    from python_on_whales.exceptions import DockerException

    from layerlab.engine.build import _complete_despite

    class Client:
        def __init__(self, exists):
            self.image = SimpleNamespace(inspect=self._inspect)
            self.exists = exists

        def _inspect(self, tag):
            if not self.exists:
                raise DockerException(["docker", "image", "inspect", tag], 1)
            return SimpleNamespace(id="sha256:x")

    tag = "layerlab/06-naive:lesson"
    tail = [
        "#9 naming to docker.io/layerlab/06-naive:lesson done",
        "#9 unpacking to docker.io/layerlab/06-naive:lesson 11.9s done",
        "#9 DONE 55.4s",
        "ERROR: failed to solve: not found",
    ]
    assert _complete_despite(tail, tag, Client(True))
    assert not _complete_despite(tail, tag, Client(False))
    assert not _complete_despite(tail[:1] + tail[3:], tag, Client(True)), "not unpacked: a real failure"
    assert not _complete_despite(tail[:3] + ["ERROR: failed to solve: process did not complete"], tag, Client(True))
    official = [l.replace("layerlab/06-naive:lesson", "nvidia/cuda:12.4.1-devel-ubuntu22.04") for l in tail]
    assert _complete_despite(official, "nvidia/cuda:12.4.1-devel-ubuntu22.04", Client(True))


def test_the_doctor_says_why_a_container_cannot_get_a_gpu(tmp_path):
    from layerlab import engine

    bare = engine.EngineFacts(command="docker", reachable=True, runtimes=["io.containerd.runc.v2", "runc"])
    can, why = engine.gpu_verdict(bare)
    assert not can and "no nvidia" in why and "no GPU device" in why
    (tmp_path / "nvidia.yaml").write_text("cdiVersion: 0.5.0\nkind: nvidia.com/gpu\n")
    (tmp_path / "other.yaml").write_text("kind: vendor.com/fpga\n")
    specs = engine.cdi_specs((tmp_path, tmp_path / "absent"))
    assert specs == [str(tmp_path / "nvidia.yaml")]
    can, why = engine.gpu_verdict(
        engine.EngineFacts(command="docker", reachable=True, runtimes=["runc"], cdi_specs=specs, gpu_device=True)
    )
    assert can and "CDI" in why
    can, why = engine.gpu_verdict(engine.EngineFacts(command="docker", reachable=True, runtimes=["nvidia", "runc"]))
    assert not can and "runtime nvidia" in why, "a runtime without a GPU device gives no GPU"


# --- the run recorded on a GPU machine (lesson 06's recorded/gpu-check.txt) ---

RECORDING = REPO / "docker" / "lessons" / "06-cuda-images" / "recorded" / "gpu-check.txt"


def test_the_gpu_recording_belongs_to_the_lesson_program():
    rec = gpu_recording.load(RECORDING)
    assert rec.stale(REPO) == [], (
        "lesson 06's program changed since its GPU run was recorded: run scripts/cuda-gpu-bundle.sh, then on a GPU "
        f"machine build/cuda-gpu-bundle/gpu-check.sh > {RECORDING.relative_to(REPO)}"
    )
    assert set(rec.sources) == {
        "docker/lessons/06-cuda-images/app/saxpy.cu",
        "docker/lessons/06-cuda-images/multi-stage/Dockerfile",
    }


def test_the_gpu_recording_reads_as_runs_with_their_exit_status_and_libraries():
    rec = gpu_recording.load(RECORDING)
    assert [r.title.split(",")[0] for r in rec.runs] == [
        "the image's saxpy",
        "SASS for sm_80 only",
        "PTX for compute_75 only (compiled by the driver at load time)",
    ]
    assert [r.ok for r in rec.runs] == [True, False, True]
    assert rec.gpu and rec.driver and rec.compute_capability and rec.recorded_at.startswith("20")
    assert all("exit status" not in r.output for r in rec.runs)
    assert len(rec.libraries) == 2 and len(rec.binaries) == 4
    with pytest.raises(NotFound, match="no recorded run titled SASS for sm_70"):
        rec.run("SASS for sm_70")


def test_a_changed_source_makes_the_recording_stale(tmp_path):
    rec = gpu_recording.load(RECORDING)
    for rel in rec.sources:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO / rel, tmp_path / rel)
    assert rec.stale(tmp_path) == []
    saxpy = tmp_path / "docker/lessons/06-cuda-images/app/saxpy.cu"
    saxpy.write_text(saxpy.read_text().replace("1 << 20", "1 << 21"))
    assert rec.stale(tmp_path) == ["docker/lessons/06-cuda-images/app/saxpy.cu"]
    (tmp_path / "docker/lessons/06-cuda-images/multi-stage/Dockerfile").unlink()
    assert len(rec.stale(tmp_path)) == 2


def test_lesson_06s_twin_ratio_fails_on_a_wheel_that_ships_a_stub_of_the_same_soname():
    """Lesson 06 asserts apt's copy and the wheel's weigh about the same (0.7 to 1.4): the same library twice.
    A name match alone would also count a loader stub; the ratio tells it apart."""
    base = {"/usr/local/cuda/lib64/libcublasLt.so.12.4.5.8": 500_000_000}
    real = {"/usr/lib/python3/site-packages/nvidia/cublas/lib/libcublasLt.so.12": 510_000_000}
    stub = {"/usr/lib/python3/site-packages/nvidia/cublas/lib/libcublasLt.so.12": 40_000}

    def ratio(wheel_files: dict[str, int]) -> float:
        apt = cuda.duplicates(SimpleNamespace(ref="runtime", files=base)).system
        on_runtime = cuda.duplicates(SimpleNamespace(ref="x", files=base | wheel_files))
        return sum(apt.get(so, 0) for so in on_runtime.twice) / on_runtime.duplicated_bytes

    assert 0.7 < ratio(real) < 1.4
    assert "libcublasLt.so.12" in cuda.duplicates(SimpleNamespace(ref="x", files=base | stub)).twice
    assert not 0.7 < ratio(stub) < 1.4
