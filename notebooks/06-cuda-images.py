# %% [markdown]
# # 06 · CUDA images: base, runtime, devel, and pip's own CUDA
#
# > **Instructor note.** The first cell makes sure the three CUDA images
# > exist. Online it pulls `nvidia/cuda:12.4.1-{base,runtime,devel}-ubuntu22.04`
# > (the official devel image is several GB); offline it builds labelled
# > stand-ins from Debian trixie's non-free CUDA 12.4 packages, about 2 GB of
# > downloads, once (`layerlab bootstrap 06` does it ahead of class, and
# > prints each image's time). The lesson's first run then builds its own
# > images (nvcc compiles SAXPY, pip installs two CUDA wheels, about 560 MB,
# > twice); once those exist the lesson takes the warm time recorded below. No GPU is
# > needed: without one the GPU cell skips the run, and the lesson shows a run
# > recorded on an H200 by `scripts/cuda-gpu-bundle.sh`, labelled so. Budget
# > 8 GB of free disk; `layerlab clean` removes the lesson's images,
# > `layerlab clean --all` the CUDA ones.
# > Recorded by `layerlab warm --record` on 2026-12-02, docker 26.1.5+dfsg1 (containerd image store) on Debian GNU/Linux 12 (bookworm), linux/amd64, 2 CPU (AMD EPYC), 25 GB memory, load average 2.2: first run 255 s (cold: none of its images existed), warm run 27 s.

# %%
from layerlab.course.lesson import Lesson

lesson = Lesson("06")
lesson.require()
lesson.objectives()

# %% [markdown]
# A CUDA image is where ML images get big. The official `nvidia/cuda` images
# come in three flavours per CUDA version, each built on the one before:
#
# - **base**: the CUDA runtime library (`libcudart`) and NVIDIA's
#   forward-compatibility package `cuda-compat-12-4`: a `libcuda.so.*` of
#   the 550 driver branch under `/usr/local/cuda-12.4/compat`, used only when
#   the host's driver is older and the GPU is a datacenter one;
# - **runtime**: base plus the math libraries (cuBLAS, cuFFT, cuRAND, ...);
# - **devel**: runtime plus the compiler `nvcc`, the headers and static
#   libraries, for *building* CUDA code.
#
# The **driver** (the kernel module and the `libcuda.so` that matches it)
# belongs to the host: the NVIDIA container toolkit mounts the host's
# `libcuda.so` into a container started with `--gpus all`. The compat copy
# in base is user-space only; it still needs the host's kernel module.
# Which images does this machine have?

# %%
from pathlib import PurePosixPath

from layerlab.course import activities, plots
from layerlab.measure import cuda, gpu_recording, inspector

got = cuda.ensure_images()
print(got.table())
assert set(got.images) == {cuda.BASE, cuda.RUNTIME, cuda.DEVEL}

# %% [markdown]
# A stand-in says what it leaves out of the official image. Each flavour adds
# its line to one file, so the devel image lists all three (an official image
# has no such file):

# %%
left_out_lines = cuda.standin_left_out(cuda.DEVEL, module=lesson.id)
print("\n".join(left_out_lines) or "official images: nothing left out")
if got.images[cuda.DEVEL].standin:
    assert [line.split(":")[0] for line in left_out_lines] == ["base", "runtime", "devel"]
    assert "cuda-compat" in left_out_lines[0] and "libcuda.so" in left_out_lines[0]

# %% [markdown]
# Offline, the three tags are **stand-ins**: Debian trixie with its own
# packaging of CUDA 12.4 (`libcudart12`; `libcublas12`, `libcublaslt12`;
# `nvidia-cuda-toolkit`, which brings `nvidia-cuda-dev` and g++), built the
# way lesson 00's stand-ins are and labelled `org.layerlab.standin=true`. The
# official images are Ubuntu with NVIDIA's packages under `/usr/local/cuda`,
# and their runtime flavour also carries cuFFT, cuRAND, cuSOLVER, cuSPARSE,
# NPP and NCCL; the stand-in's runtime has cuBLAS only. So the sizes below are
# this machine's, and the lesson asserts how they relate, not what they are.
#
# **Predict, then measure.** How big is the devel image, uncompressed, with
# every library and static archive NVIDIA puts in it? (Offline, the answer is
# the stand-in plus what it lists as left out.)

# %%
guess_devel = activities.predict("06", "devel-gb")
guess_devel

# %% [markdown]
# ## Three flavours, layer by layer
#
# `layerlab inspect` reads each image's layers. Each flavour is its parent's
# layers plus its own, so the bars below share their first segments.

# %%
reports = {name: inspector.inspect(ref) for name, ref in cuda.FLAVOURS.items()}
for name, r in reports.items():
    print(f"{name:<8} {r.ref:<42} {r.size_bytes / 1e9:5.2f} GB in {len(r.layers)} layers, {r.compressed_bytes / 1e9:5.2f} GB compressed")
plots.layer_stacks(list(reports.values()), [f"{n}\n{r.ref.split(':')[1]}" for n, r in reports.items()],
                   title="CUDA 12.4 images, layer by layer (uncompressed)");

# %%
base, runtime, devel = reports["base"], reports["runtime"], reports["devel"]
assert [l.digest for l in runtime.layers[: len(base.layers)]] == [l.digest for l in base.layers]
assert [l.digest for l in devel.layers[: len(runtime.layers)]] == [l.digest for l in runtime.layers]
assert base.size_bytes < runtime.size_bytes < devel.size_bytes
assert devel.size_bytes > 1.5 * runtime.size_bytes, "the compiler and development files outweigh the runtime libraries"

# %% [markdown]
# What makes each flavour heavy? The largest files each one adds to its parent:

# %%
def added_files(child, parent):
    return {p: s for p, s in child.files.items() if p not in parent.files}


added = {"runtime": added_files(runtime, base), "devel": added_files(devel, runtime)}
for name, new in added.items():
    print(f"{name} adds {sum(new.values()) / 1e9:.2f} GB in files; the largest:")
    for path, size in sorted(new.items(), key=lambda kv: -kv[1])[:6]:
        print(f"  {size / 1e6:8.1f} MB  {path}")

# %% [markdown]
# The largest file the runtime flavour adds, and its share:

# %%
biggest_runtime = max(added["runtime"], key=added["runtime"].get)
share = added["runtime"][biggest_runtime] / sum(added["runtime"].values())
print(f"{biggest_runtime}: {added['runtime'][biggest_runtime] / 1e6:.0f} MB, {share:.0%} of what runtime adds")
assert PurePosixPath(biggest_runtime).name.startswith("libcublasLt.so")

# %% [markdown]
# devel adds the compiler (`nvcc` and the tools it drives: `cicc`, `ptxas`,
# `nvlink`, `fatbinary`), g++, the CUDA headers and the development files.
# The official devel image holds much more: every CUDA library that its
# runtime image carries (cuFFT, cuSPARSE, cuSOLVER, NPP, ...) and a **static
# archive** of each. The stand-in leaves those out to keep its cold build
# short, and lists them, sizes measured from the packages, in
# `/usr/share/doc/nvidia-cuda-dev/layerlab-excluded.txt`. The next cell reads
# that list (empty on the official image, which has them all):

# %%
headers = sum(s for p, s in devel.files.items() if p.endswith((".h", ".hpp", ".cuh")))
static_here = {p: s for p, s in devel.files.items() if p.endswith(".a")}
left_out = cuda.static_left_out(cuda.DEVEL, module=lesson.id) if got.images[cuda.DEVEL].standin else {}
print(f"devel: headers {headers / 1e6:.0f} MB; static archives in the image {sum(static_here.values()) / 1e6:.0f} MB "
      f"({len(static_here)} files); left out of this stand-in (libraries and static archives) "
      f"{sum(left_out.values()) / 1e9:.2f} GB in {len(left_out)} files")
for path, size in sorted(left_out.items(), key=lambda kv: -kv[1])[:5]:
    print(f"  left out: {size / 1e6:8.1f} MB  {path}")

# %% [markdown]
# The largest static archive of the official devel image, whether this image
# holds it or the stand-in's list names it:

# %%
archives = {**static_here, **{p: s for p, s in left_out.items() if p.endswith(".a")}}
biggest_archive = max(archives, key=archives.get)
print(f"{PurePosixPath(biggest_archive).name}: {archives[biggest_archive] / 1e6:.0f} MB")
assert PurePosixPath(biggest_archive).name == "libcublasLt_static.a"
# By name: Debian puts it in /usr/lib/x86_64-linux-gnu, NVIDIA under /usr/local/cuda-12.4/targets/x86_64-linux/lib.
assert "libcudart_static.a" in {PurePosixPath(p).name for p in static_here}, "nvcc links cudart statically by default"

# %% [markdown]
# How much of the official devel image the stand-in skips, against what its
# own devel layer adds:

# %%
devel_adds = sum(added["devel"].values())
if got.images[cuda.DEVEL].standin:
    print(f"left out {sum(left_out.values()) / 1e9:.2f} GB, {sum(left_out.values()) / devel_adds:.1f}x the "
          f"{devel_adds / 1e9:.2f} GB the stand-in's devel layer adds")
    assert sum(left_out.values()) > 2 * devel_adds, \
        "the official devel image holds more than twice what the stand-in's devel layer adds"
else:
    print("official devel image: nothing left out, so there is no stand-in to compare (check skipped)")

# %% [markdown]
# The prediction's answer: this devel image plus what it left out.

# %%
guess_devel.reveal((devel.size_bytes + sum(left_out.values())) / 1e9,
                   note=f"{devel.size_bytes / 1e9:.2f} GB here + {sum(left_out.values()) / 1e9:.2f} GB left out "
                        "(sizes from the packages). NVIDIA's own Ubuntu images are bigger still: a CUDA 11.8 devel "
                        "image measured 7.37 GB uncompressed (moby/moby#46425).")

# %% [markdown]
# A program links the static archives into itself only when it is built that
# way; no *running* program ever needs them.
#
# ## Compile in devel, ship on base
#
# SAXPY (`y = a*x + y`) is the "hello world" of GPU code. This one asks
# `cudaGetDeviceCount` first and reports a missing GPU or driver cleanly:

# %%
lesson.show("app", "saxpy.cu")

# %% [markdown]
# The naive image compiles it in the devel image and ships that image:

# %%
lesson.show("naive")

# %% [markdown]
# The multi-stage file compiles in a `builder` stage and copies one file into
# a final stage. Three final stages to compare: on the runtime image, on the
# base image, and on plain Debian (which forgets the runtime library).
# `-cudart shared` makes the binary load `libcudart.so.12` from the image
# rather than carry a static copy, so the final image has to provide it.

# %%
lesson.show("multi-stage")

# %%
guess_ratio = activities.predict("06", "final-percent")
guess_ratio

# %%
builds = {"naive (devel)": lesson.build("naive", context=lesson.app)}
for target in ("on-runtime", "on-base", "forgot-lib"):
    builds[target] = lesson.build(target, variant="multi-stage", context=lesson.app, target=target)

# %% [markdown]
# The four images' sizes, read from their layers:

# %%
sizes = {name: inspector.inspect(r.tag) for name, r in builds.items()}
for name, r in sizes.items():
    print(f"{name:<14} {r.size_bytes / 1e6:8.1f} MB uncompressed, {r.compressed_bytes / 1e6:7.1f} MB compressed, user {r.user or 'root'}")

# %%
plots.ratio_bars({n: r.size_bytes / 1e6 for n, r in sizes.items()}, "SAXPY: one program, four final images",
                 replayed=sizes.values());

# %%
final = sizes["on-base"]
ratio = final.size_bytes / sizes["naive (devel)"].size_bytes
print(f"on-base is {ratio:.1%} of the naive devel image; on-runtime {sizes['on-runtime'].size_bytes / sizes['naive (devel)'].size_bytes:.1%}")
assert ratio <= 0.15, "the course's goal: the final image at most 15% of the devel single-stage"
guess_ratio.reveal(100 * ratio, note=f"{final.size_bytes / 1e6:.0f} MB against {sizes['naive (devel)'].size_bytes / 1e6:.0f} MB.")

# %% [markdown]
# No compiler, no headers, no static archives reached the final image:

# %%
leftovers = {what: final.find(glob) for what, glob in
             {"nvcc": "*/nvcc", "headers": "*/cuda_runtime*.h", "static libraries": "*.a"}.items()}
print({what: len(found) for what, found in leftovers.items()}, "in on-base;",
      {what: len(sizes["naive (devel)"].find(glob)) for what, glob in
       {"nvcc": "*/nvcc", "headers": "*/cuda_runtime*.h", "static libraries": "*.a"}.items()}, "in the naive image")
assert not any(leftovers.values())

# %% [markdown]
# ## Does it still start? `ldd` asks the image's loader
#
# A binary copied alone may need shared libraries the final image lacks.
# `ldd` lists what the program needs and where the loader finds each, in the
# image itself:

# %%
PROGRAM = "/usr/local/bin/saxpy"
links = {name: cuda.ldd(builds[name].tag, PROGRAM, module=lesson.id) for name in ("on-base", "forgot-lib")}
for name, l in links.items():
    print(f"--- {name}\n{l.output.strip()}")
assert links["on-base"].resolved
assert links["forgot-lib"].missing == ["libcudart.so.12"]

# %% [markdown]
# Plain Debian has the C++ runtime but not `libcudart.so.12`. What the
# program says depends on whether this engine gives containers a GPU at all
# (an engine whose default runtime is NVIDIA's can inject one even without
# `--gpus`). The `gpu` line of `layerlab doctor` says:

# %%
access = cuda.gpu_access()
print(("a container can get a GPU: " if access.can else "no GPU for containers: ") + access.why)
HAS_GPU = access.can

# %% [markdown]
# Run both:

# %%
ran = {name: lesson.run(builds[name].tag) for name in ("on-base", "forgot-lib")}
for name, r in ran.items():
    print(f"--- {name}: exit {r.exit_code}\n{r.output.strip()}")
assert ran["forgot-lib"].exit_code == 127 and "libcudart.so.12" in ran["forgot-lib"].output
if not HAS_GPU:
    assert ran["on-base"].exit_code == 2 and "no CUDA device/driver" in ran["on-base"].output
    assert "cudaGetDeviceCount: cudaError" in ran["on-base"].output

# %% [markdown]
# The forgotten library fails before `main` runs, with the loader's
# `error while loading shared libraries`. The image on base starts, and the
# program itself explains that there is no GPU: `cudaGetDeviceCount` returned
# an error because no driver is loaded: no GPU device node and no host
# `libcuda.so.1` were given to the container, which is what any container
# gets without `--gpus`. A program that skips this check
# fails later, at its first `cudaMalloc`, with a less helpful message.
#
# ## Which GPUs the binary has code for
#
# `nvcc` writes two kinds of GPU code into the binary. **SASS** is machine
# code for one GPU generation (`sm_80`: Ampere A100; `sm_90`: Hopper H100);
# it runs on that generation's GPUs of the same or a higher minor version.
# **PTX** is a portable assembly that the *driver* compiles at load time
# (JIT) for whatever GPU it finds, including ones newer than the compiler.
# Each `-gencode arch=compute_XX,code=sm_XX` adds SASS; `code=compute_XX`
# adds PTX. `cuobjdump` (devel only) lists them:

# %%
code = cuda.gpu_code(builds["naive (devel)"].tag, PROGRAM, module=lesson.id)
print(code.elf_output.strip())
print(code.ptx_output.strip())
GPUS = {"T4 (sm_75)": 75, "A10 (sm_86)": 86, "A100 (sm_80)": 80, "H100 (sm_90)": 90, "B200 (sm_100)": 100}
for gpu, sm in GPUS.items():
    print(f"{gpu:<14} runs {code.runs_on(sm)}")
assert code.sass == ["sm_75", "sm_80", "sm_90"] and code.ptx == ["compute_90"]
assert "PTX" in code.runs_on(100) and code.runs_on(90) == "SASS sm_90"

# %% [markdown]
# A binary built with `-gencode arch=compute_80,code=sm_80` alone has no PTX:
# on an H100 or a Blackwell GPU its kernel fails with
# `cudaErrorNoKernelImageForDevice` ("no kernel image is available for
# execution on the device"). Ship PTX for the newest architecture you build
# for, so newer GPUs can still compile it; SASS for the ones you run on avoids
# the JIT delay at start-up. Every extra architecture makes the binary bigger,
# which is one reason framework wheels are hundreds of MB.
#
# ## The driver decides what runs
#
# The image brings the CUDA runtime; the host brings the driver. A driver
# runs CUDA images up to the CUDA version it supports. **Minor-version
# compatibility** goes further within CUDA 12: any driver from 525.60.13 on
# runs a *newer* 12.x runtime (a 12.4 image on a 535 driver), except that
# the driver cannot JIT-compile PTX newer than itself and a few new APIs
# return `cudaErrorCallRequiresNewerDriver`. Across a major version (a 470
# driver, CUDA 11.4) only the **forward-compatibility** libraries help: the
# `cuda-compat` package that the official base image installs, on datacenter
# GPUs with a supported driver branch; on a GeForce they fail with
# `cudaErrorCompatNotSupportedOnDevice`. The driver rows below are reference
# data from NVIDIA's CUDA Compatibility guide
# (<https://docs.nvidia.com/deploy/cuda-compatibility/>); only the last row,
# this machine, is measured: the program printed both versions.

# %%
runtime_cuda, host_driver = cuda.parse_versions(ran["on-base"].output)
print(f"measured: the image's CUDA runtime {runtime_cuda}, this host's driver: {host_driver or 'none'}")
print(f"reference rows: {cuda.COMPAT_SOURCE}")
table = cuda.compat_table(runtime_cuda, host_driver)
RUNS = f"runs a CUDA {runtime_cuda} image"
w = max(len(r["driver"]) for r in table)
for r in table:
    print(f"{r['driver']:<{w}}  CUDA {r['supports CUDA']:<5}  {r[RUNS]}")
assert runtime_cuda == "12.4", "the program reports the runtime the base image gave it"

# %% [markdown]
# Before the program runs at all, the container toolkit checks the image's
# `NVIDIA_REQUIRE_CUDA` against the host. A space separates alternatives
# (OR), a comma joins conditions (AND): the official 12.4 value accepts a
# driver that supports CUDA 12.4, *or* a 470.x, 525.x or 535.x driver of a
# listed brand (the branches `cuda-compat` serves). Any other older driver is
# refused with `unsatisfied condition: cuda>=12.4`, even one that
# minor-version compatibility would serve (545, CUDA 12.3);
# `NVIDIA_DISABLE_REQUIRE=1` (`docker run -e ...`) skips the check. The cell
# reads the value from the base image and applies the toolkit's rule to
# drivers of each branch:

# %%
env = dict(e.split("=", 1) for e in base.env)
require = env["NVIDIA_REQUIRE_CUDA"]
print(f"NVIDIA_REQUIRE_CUDA: {len(require.split())} alternatives; the first three: {' | '.join(require.split()[:3])}")
drivers = [cuda.Driver(d, c, brand) for d, c in cuda.DRIVER_CUDA.items() for brand in ("tesla", "geforce")]
for d in drivers:
    ok = cuda.require_accepts(require, d)
    print(f"  driver {d.version}.x (CUDA {d.cuda}) on {d.brand:<8} toolkit check: "
          f"{'passes' if ok else 'refused'}; then: {cuda.verdict(runtime_cuda, d.cuda)}")
accepted = {(d.version, d.brand) for d in drivers if cuda.require_accepts(require, d)}
assert {("470", "tesla"), ("525", "tesla"), ("535", "geforce"), ("550", "geforce")} <= accepted, \
    "the official value accepts the 470/525/535 branches and any driver for CUDA 12.4"
assert ("545", "geforce") not in accepted and cuda.require_accepts(require, cuda.Driver("545", "12.3"),
                                                                   disable_require=True)
print(cuda.require_error(require, cuda.Driver("545", "12.3", "geforce")))

# %% [markdown]
# ## GPU cells
#
# Giving a container a GPU takes the NVIDIA driver on the host and the
# **NVIDIA Container Toolkit**, set up once per host:
#
# - `sudo nvidia-ctk runtime configure --runtime=docker` adds the `nvidia`
#   runtime to `/etc/docker/daemon.json` (restart dockerd); then
#   `docker run --gpus all` works;
# - or **CDI**: `sudo nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml`
#   writes device specs, and `--device nvidia.com/gpu=all` asks for them
#   (Podman's way; Docker 25+ with CDI enabled).
#
# In the container, `NVIDIA_VISIBLE_DEVICES` (`all`, `0,1`, a GPU UUID;
# `none`: the driver but no GPU; `void`: nothing) picks the GPUs and `NVIDIA_DRIVER_CAPABILITIES`
# (`compute,utility` in the CUDA images: CUDA and `nvidia-smi`; add `video`
# for NVENC, `graphics` for OpenGL) picks which driver libraries are mounted.
# Two errors to recognise: `could not select device driver "" with
# capabilities: [[gpu]]` means the engine has no toolkit (install and
# configure it), and `unsatisfied condition: cuda>=12.x` means the host's
# driver is too old for the image (see above).
#
# **"Put the driver in the image"** is a common piece of advice, and wrong:
# the driver's user-space libraries must match the host's kernel module
# exactly, so an image with its own `libcuda.so` runs on the one driver
# version it was built with, and the toolkit mounts the host's copy over it
# anyway. Only `cuda-compat` (above) is made to run on an older kernel module,
# and only on datacenter GPUs. `access` (above) says which way this engine
# gives GPUs; the cell asks for the GPU that way:

# %%
if HAS_GPU:
    print("device request:", access.run_options())
    on_gpu = lesson.run(builds["on-base"].tag, **access.run_options())
    print(on_gpu.output)
    assert on_gpu.ok and "max error 0: ok" in on_gpu.output
else:
    print("No GPU for containers here, so the program was not run on one. The next cell shows a run on a GPU machine.")

# %% [markdown]
# GPU or not, the course keeps one run on a real GPU, recorded:
# `scripts/cuda-gpu-bundle.sh` copies this lesson's compiled program and
# every library it loads out of the `on-base` image, compiles two variants
# with other `-gencode` flags, and its `gpu-check.sh` ran them on a GPU
# machine without Docker (the host's driver gives `libcuda.so.1`, as the
# toolkit does for `--gpus all`). The recording names the sources it was
# built from; a test fails when they change and the recording does not.
# **Predict** before you read it: the variant with SASS for `sm_80` only, on
# a Hopper GPU (compute capability 9.0), does it run?

# %%
recorded = gpu_recording.load(lesson.path("recorded", "gpu-check.txt"))
print(recorded.banner())
for r in recorded.runs:
    print(f"--- {r.title}: exit {r.exit_status}\n{r.output}")
print("--- where the loader found the CUDA libraries:", *recorded.libraries, sep="\n  ")

# %% [markdown]
# What the recording shows, asserted: the image's program ran on the GPU
# with the image's `libcudart` and the host's `libcuda`; the `sm_80`-only
# variant has no code a compute-capability-9.0 GPU runs (the rule in
# `runs_on` above says the same); the PTX-only one ran, compiled by the
# driver at load time; and a driver for a newer CUDA ran the 12.4 runtime.

# %%
sm = int(recorded.compute_capability.replace(".", ""))
on_recorded_gpu = recorded.run("the image's saxpy")
assert on_recorded_gpu.ok and f"compute capability {recorded.compute_capability}" in on_recorded_gpu.output
assert [PurePosixPath(p).name for p in recorded.libraries] == ["libcudart.so.12", "libcuda.so.1"]
assert recorded.libraries[0].startswith("<bundle>/") and not recorded.libraries[1].startswith("<bundle>/"), \
    "libcudart came from the image, libcuda from the host's driver"
sm80_only = recorded.run("SASS for sm_80 only")
assert sm80_only.exit_status != 0 and "cudaErrorNoKernelImageForDevice" in sm80_only.output
assert cuda.GpuCode(sass=["sm_80"], ptx=[], elf_output="", ptx_output="").runs_on(sm).startswith("no code")
assert recorded.run("PTX for compute_75 only").ok
assert cuda.GpuCode(sass=[], ptx=["compute_75"], elf_output="", ptx_output="").runs_on(sm).startswith("PTX")
gpu_runtime, gpu_driver = cuda.parse_versions(on_recorded_gpu.output)
print(f"recorded: CUDA runtime {gpu_runtime} on a driver for CUDA {gpu_driver}: {cuda.verdict(gpu_runtime, gpu_driver)}")
assert gpu_runtime == runtime_cuda and cuda.verdict(gpu_runtime, gpu_driver).startswith("yes")

# %% [markdown]
# ## pip's CUDA wheels: CUDA a second time
#
# A CUDA build of PyTorch does not use the image's CUDA libraries: it depends
# on NVIDIA's wheels (`nvidia-cublas-cu12`, `nvidia-cudnn-cu12`, ...), which
# put their own copies under `site-packages/nvidia/`. Install two of them,
# the runtime library and cuBLAS at the versions torch 2.6 pins, on the
# runtime image and on a slim Python image:

# %%
lesson.show("app", "requirements.txt")
lesson.show("wheels-runtime")
lesson.show("wheels-slim")

# %%
guess_twice = activities.predict("06", "twice-mb")
guess_twice

# %%
# The two builds run side by side: the lesson compares what they hold, not how long they took.
wheel_builds = lesson.builds({"on the CUDA runtime image": "wheels-runtime", "on python:3.13-slim": "wheels-slim"},
                             context=lesson.app)
wheel_images = {name: inspector.inspect(r.tag) for name, r in wheel_builds.items()}
dups = {name: cuda.duplicates(r) for name, r in wheel_images.items()}
on_runtime, on_slim = dups["on the CUDA runtime image"], dups["on python:3.13-slim"]

# %% [markdown]
# ## Challenge: the biggest twin
#
# Before the list is printed: which CUDA library does the runtime-based wheel
# image carry twice with the most bytes? Give its soname (like
# `libcudart.so.12`), computed from `on_runtime` with one line of Python.

# %%
activities.challenge("06-biggest-twin")

# %%
BIGGEST_TWIN = None  # BIGGEST_TWIN = max(on_runtime.twice, key=...)

# %%
import layerlab

layerlab.check("06-biggest-twin", BIGGEST_TWIN, tag=wheel_builds["on the CUDA runtime image"].tag)

# %%
activities.solution("06-biggest-twin")

# %% [markdown]
# What each image holds, soname by soname:

# %%
for name, d in dups.items():
    print(f"{name}: {wheel_images[name].size_bytes / 1e6:.0f} MB; CUDA sonames in the image's lib dirs {sorted(d.system)}")
    for so, size in d.twice.items():
        print(f"  twice: {so:<22} {size / 1e6:7.1f} MB in site-packages/nvidia, again in the image")
    print(f"  duplicated: {d.duplicated_bytes / 1e6:.0f} MB")
plots.ratio_bars({name: d.duplicated_bytes / 1e6 for name, d in dups.items()},
                 "CUDA library bytes shipped twice (same soname in the image and in a wheel)",
                 ylabel="duplicated (MB)", replayed=wheel_images.values());

# %%
assert {"libcudart.so.12", "libcublas.so.12", "libcublasLt.so.12"} <= set(on_runtime.twice)
# Controls: they hold by construction (a slim base has no CUDA; the same requirements.txt), and check the set-up.
assert on_slim.duplicated_bytes == 0 and not on_slim.system, "control: a slim base has no CUDA of its own"
assert on_slim.wheels.keys() == on_runtime.wheels.keys(), "control: the same wheels on either base"
# Measured: the twins really are the same library twice. The apt copies, read from the runtime base image
# itself, weigh about what the wheel copies weigh; and pip's layer adds the same bytes on either base (it did
# not skip a library because the base had one).
apt_copies = cuda.duplicates(runtime).system
apt_bytes = sum(apt_copies.get(so, 0) for so in on_runtime.twice)
pip_layer = {name: next(x for x in reversed(r.layers) if "pip install" in x.created_by).size_bytes
             for name, r in wheel_images.items()}
print(f"apt copies in the runtime base {apt_bytes / 1e6:.0f} MB, "
      f"wheel copies {on_runtime.duplicated_bytes / 1e6:.0f} MB; pip's layer: " + ", ".join(f"{n} {b / 1e6:.0f} MB" for n, b in pip_layer.items()))
assert 0.7 < apt_bytes / on_runtime.duplicated_bytes < 1.4, "each twin is about the same size in apt's and pip's copy"
assert abs(pip_layer["on the CUDA runtime image"] / pip_layer["on python:3.13-slim"] - 1) < 0.05
guess_twice.reveal(on_runtime.duplicated_bytes / 1e6, note="libcudart, cuBLAS and cuBLASLt: once from apt, once from the wheels.")

# %% [markdown]
# The wheels are complete on their own: on the slim image they are the only
# CUDA there is, and nothing is shipped twice. The framework finds them
# through its own `RPATH` (or the `nvidia` package's loader hooks), never
# through the image's library directories. Two wheels are the small end: the
# set a CUDA build of torch 2.6 pins, read from the package index's metadata
# (sizes of the x86_64 wheels as downloaded, nothing installed):

# %%
full = cuda.torch_cuda_wheels("2.6.0")
print(full.requirer)
if full.replayed:
    print(f"source: REPLAYED, the index was not reachable; recorded {full.replayed['recorded_at']} from: {full.source}")
else:
    print(f"source: read live now from {full.source}")
for name, w in sorted(full.wheels.items(), key=lambda kv: -kv[1].bytes):
    print(f"  {name:<26} {w.version:<12} {w.bytes / 1e6:7.1f} MB")
print(f"  {'total':<26} {'':<12} {full.total_bytes / 1e6:7.1f} MB compressed (index metadata, not measured here)")

# %% [markdown]
# Against the two wheels the lesson installed (same unit: download bytes):

# %%
installed = [line.split("==")[0] for line in (lesson.app / "requirements.txt").read_text().splitlines()
             if line and not line.startswith("#")]
installed_bytes = sum(full.wheels[n].bytes for n in installed)
print(f"installed here: {', '.join(installed)}: {installed_bytes / 1e6:.0f} MB; "
      f"the full set {full.total_bytes / installed_bytes:.1f}x that")
assert set(installed) <= set(full.wheels)
assert full.total_bytes > 5 * installed_bytes, "the full set is more than five times the two wheels installed here"

# %% [markdown]
# ## CPU inference: no CUDA wheels at all
#
# A plain `pip install torch` on Linux x86_64 resolves the CUDA build and the
# wheel set above, GPU or not. An image that serves on CPUs wants PyTorch's
# **CPU** build, from PyTorch's own index:
# `pip install torch --index-url https://download.pytorch.org/whl/cpu`. That
# index is not reachable from this machine, so its size is cited, not
# measured: for torch 2.6.0 the CPU resolve drops exactly the 13 `nvidia-*`
# wheels and `triton`, and one project's image went from 3.38 GB to 0.68 GB
# compressed (future-agi/future-agi#2789, measured there). What this machine
# can measure is the part that goes away, from the index's metadata:

# %%
print(f"CUDA wheels a plain `pip install torch=={full.requirer.split('==')[1].split()[0]}` adds on x86_64: "
      f"{len(full.wheels)} wheels, {full.total_bytes / 1e9:.2f} GB compressed (index metadata)")
print("cited, not measured: the CPU build leaves all of them out "
      "(https://github.com/future-agi/future-agi/pull/2789: image 3.38 GB -> 0.68 GB compressed)")
assert len(full.wheels) >= 10 and full.total_bytes > 1e9, "the CUDA set is over ten wheels and over a gigabyte"

# %% [markdown]
# So a framework that brings its own CUDA wheels wants a **slim Python base**:
# a CUDA runtime base under it only adds the same libraries again, the
# duplicated megabytes measured above. The devel image is for
# *compiling* CUDA code, in a builder stage; the base or runtime image is for
# running code compiled against the system CUDA, like SAXPY above.

# %%
lesson.key_points()

# %% [markdown]
# ## Exercise `06-cuda`
#
# `exercises/06-cuda/` compiles SAXPY and ships the devel image. Make it a
# multi-stage build whose final image has no nvcc, no headers, no static
# libraries, runs as a non-root user, and still runs the program; grade it
# with `layerlab grade exercises/06-cuda`.

# %%
print("Figures measured in this run:")
for name, r in reports.items():
    print(f"  {name:<8} {r.size_bytes / 1e9:5.2f} GB ({'stand-in' if got.images[r.ref].standin else 'official'})")
print(f"  SAXPY on base: {final.size_bytes / 1e6:.0f} MB = {ratio:.1%} of the devel single-stage image")
print(f"  CUDA bytes shipped twice by 2 wheels on the runtime image: {on_runtime.duplicated_bytes / 1e6:.0f} MB; "
      f"on slim: {on_slim.duplicated_bytes / 1e6:.0f} MB")
print(f"  GPU run here: {'yes' if HAS_GPU else 'no (' + access.why + ')'}")

# %%
activities.quiz("06")
