# %% [markdown]
# # 05 · One image, two CPUs: buildx multi-arch
#
# > **Instructor note.** This lesson builds one app for `linux/amd64` and
# > `linux/arm64` three ways, each cold (`--no-cache`) so that the times
# > compare, then pushes the result to a real registry on `localhost:5000`
# > (`layerlab registry up`; offline the first start builds a stand-in
# > registry image from Debian's `docker-registry` package, about a minute).
# > The naive build runs pip and gcc under qemu and takes a few minutes on 2
# > cores; the whole lesson stays under 6 minutes warm. It needs the
# > containerd image store and qemu for arm64 (`layerlab doctor`).
# > `layerlab clean` removes the images and the registry afterwards.

# %%
from layerlab.course.lesson import Lesson

lesson = Lesson("05")
lesson.require()
lesson.objectives()

# %% [markdown]
# Your laptop may be an Apple M-series (arm64), your CI runners and the
# cloud GPU boxes amd64, the cheap inference servers Graviton or Ampere
# (arm64 again). An image holds machine code for **one** CPU architecture, so
# "it works on my machine" now has a second meaning.
#
# ## What a platform is
#
# A *platform* names what an image's binaries need: the operating system, the
# CPU architecture and sometimes a variant, written `os/arch[/variant]`:
# `linux/amd64`, `linux/arm64`, `linux/arm/v7`. Containers share the host's
# kernel (lesson 01), so the OS is always Linux here; the architecture is what
# differs. This machine is:

# %%
from layerlab import engine
from layerlab.course import plots
from layerlab.engine import registry
from layerlab.measure import inspector

PLATFORMS = ["linux/amd64", "linux/arm64"]
HOST = engine.host_platform()
print("this machine:", HOST)
assert HOST == "linux/amd64", "the lesson's numbers assume an amd64 host that emulates arm64"

# %% [markdown]
# The same `python:3.13-slim` tag exists here for both architectures. Ask a
# container of each what it thinks it runs on: the kernel's machine name, what
# Python reports, and the program loader (the `ld-linux` file that starts
# every dynamically linked program, which differs per architecture).

# %%
WHOAMI = (
    "import glob, platform, sys; "
    "print(platform.uname().machine, platform.machine(), sys.maxsize > 2**32, "
    "glob.glob('/lib*/ld-linux*.so*') or glob.glob('/lib*/*/ld-linux*.so*'))"
)
seen = {p: lesson.run("python:3.13-slim", ["python", "-c", WHOAMI], platform=p) for p in PLATFORMS}
for p, r in seen.items():
    print(f"{p:<12} {r.seconds:5.2f} s  {r.output.strip()}")
assert seen["linux/amd64"].output.split()[0] == "x86_64" and "ld-linux-x86-64" in seen["linux/amd64"].output
assert seen["linux/arm64"].output.split()[0] == "aarch64" and "ld-linux-aarch64" in seen["linux/arm64"].output

# %% [markdown]
# The arm64 container is sure it runs on an arm64 CPU. It does not: the
# kernel hands every arm64 program to **qemu**, registered as the interpreter
# for arm64 binaries (`binfmt_misc`), which translates its instructions to
# amd64 ones as it goes. It works, and it is slow.
#
# Without that emulator the start fails with `exec format error`: the kernel
# was given machine code for another CPU. It is what a colleague on an amd64
# server sees when you hand over an image built on your M-series Mac, where
# the default platform is `linux/arm64`. Docker may warn first: *the requested
# image's platform (linux/arm64) does not match the detected host platform
# (linux/amd64)*. The fix is never a flag at run time; it is an image built for
# both platforms. Building twice, once with `--platform linux/amd64` and once
# with `--platform linux/arm64` under two tags, is the common workaround, and
# it is both slow and wrong: two tags, and every user has to pick the right
# one. One build with `--platform linux/amd64,linux/arm64` produces **one**
# tag that names an *image index*, and each machine pulls its own half.
#
# ## The app, built three ways
#
# The app scores customers with numpy (a real wheel with compiled code,
# published for both architectures) and `fastscore`, lesson 04's C extension
# (which has to be compiled for each):

# %%
lesson.show("app", "serve.py")
lesson.show("app", "requirements.txt")

# %% [markdown]
# **1. Naive.** Lesson 04's multi-stage file, built for both platforms. Every
# stage is built *for* the target platform, so for arm64 every `RUN` (pip,
# setuptools, gcc) executes under qemu.

# %%
lesson.show("naive")

# %% [markdown]
# **2. Cross-installed wheels.** `FROM --platform=$BUILDPLATFORM` pins a stage
# to the machine that builds (amd64 here), so its `RUN`s are native. pip in
# that stage downloads the *target's* wheels: `--platform manylinux2014_aarch64`
# picks the wheel, `--only-binary=:all:` forbids building anything (it could not
# run the result), and `--target` puts the files in a folder that the runtime
# stage copies. `TARGETARCH` (`amd64` or `arm64`) is set by BuildKit for each
# platform it builds. The C extension still compiles on the target platform,
# with the target's own gcc: emulated.

# %%
lesson.show("cross-wheels")

# %% [markdown]
# **3. Cross-compiled.** The builder runs natively and installs Debian's cross
# compiler for the target (`gcc-aarch64-linux-gnu`, part of
# `crossbuild-essential-arm64`) and the target's Python headers (Debian's
# multiarch: `libpython3.13-dev:arm64` installs next to the amd64 packages).
# `TARGETARCH` chooses the compiler. The last stage only copies files, so
# nothing at all runs under emulation.

# %%
lesson.show("cross-compile")

# %% [markdown]
# **Predict, then measure.** In the naive build, how much longer will the
# arm64 half take than the amd64 half?

# %%
from layerlab.course import activities

guess_slowdown = activities.predict("05", "naive-arm64-ratio")
guess_slowdown

# %% [markdown]
# Each build is cold (`--no-cache`). BuildKit's plain progress names the
# platform of every step, `[linux/arm64 builder 4/4]`, and a step of a cross
# stage as `[linux/amd64->arm64 builder 4/4]`: it runs on amd64 and builds for
# arm64. The per-platform times below add up those steps' own durations.

# %%
WAYS = {"naive": "1. naive (all emulated)", "cross-wheels": "2. cross-installed wheels", "cross-compile": "3. cross-compiled"}
builds, outputs = {}, {}
for w in WAYS:
    # provenance=True: what a plain `docker buildx build` does by default (layerlab's own builds leave it out).
    builds[w] = lesson.build(w, context=lesson.app, platforms=PLATFORMS, cache=False, provenance=True)
    # Each image runs on each platform at once: the check below compares what they printed.
    outputs.update({(w, p): lesson.run(builds[w].tag, platform=p) for p in PLATFORMS})
times = {w: r.platform_seconds() for w, r in builds.items()}
for w, r in builds.items():
    emulated = r.emulated("linux/arm64")
    print(f"{WAYS[w]:<28} amd64 {times[w]['linux/amd64']:6.1f} s   arm64 {times[w]['linux/arm64']:6.1f} s   "
          f"wall {r.seconds:6.1f} s   arm64 RUN steps under qemu: {len(emulated)}")
plots.platform_time_groups({WAYS[w]: t for w, t in times.items()},
                           title="One app for linux/amd64 and linux/arm64, three ways (cold)", replayed=builds.values());

# %%
slowdown = times["naive"]["linux/arm64"] / times["naive"]["linux/amd64"]
speedup = {w: times["naive"]["linux/arm64"] / times[w]["linux/arm64"] for w in ("cross-wheels", "cross-compile")}
print(f"naive: arm64 takes {slowdown:.1f} x the amd64 time")
for w, s in speedup.items():
    print(f"{WAYS[w]}: arm64 {s:.1f} x faster than naive")
assert builds["naive"].emulated("linux/arm64"), "the naive arm64 build runs pip under qemu"
assert not builds["cross-compile"].emulated(), "the cross-compiled build runs nothing under qemu"
assert [s.name[:3] for s in builds["cross-wheels"].emulated()] == ["RUN"], "only the compile step is emulated"
assert slowdown >= 2, "emulation costs 2-8 times (published anchor)"
assert all(s >= 3 for s in speedup.values()), "the course's goal: cross-built arm64 at least 3 x faster"

# %%
guess_slowdown.reveal(slowdown, note=f"naive amd64 {times['naive']['linux/amd64']:.0f} s, arm64 {times['naive']['linux/arm64']:.0f} s of step time.")

# %% [markdown]
# Same app, same wheels, same C code. What differs is only *where* each `RUN`
# executes. The cross-compiled build does install a toolchain (the
# `apt-get` step, most of its time), but it does so at native speed; the naive
# build spends its time in pip and setuptools, interpreted by an emulated
# Python.
#
# Fast is worth nothing if the result is wrong. Each image ran on each
# platform right after its build:

# %%
reference = outputs[("naive", "linux/amd64")]
print(reference.output)
for (w, p), out in outputs.items():
    print(f"{WAYS[w]:<28} {p:<12} exit {out.exit_code}, {out.seconds:5.2f} s, same output: {out.output == reference.output}")
assert all(o.ok and o.output == reference.output for o in outputs.values())
arch = {p: lesson.run(builds["cross-compile"].tag, ["python", "-c", "import platform; print(platform.machine())"], platform=p)
        for p in PLATFORMS}
assert arch["linux/arm64"].output.strip() == "aarch64" and arch["linux/amd64"].output.strip() == "x86_64"

# %% [markdown]
# The arm64 images ran here under qemu, so "runs and prints the same" is a
# real test of the cross-compiled `fastscore` (the app also checks it against
# numpy's result for every row).
#
# ## The image index, in a real registry
#
# A multi-platform tag names an **image index** (Docker calls it a manifest
# list): a small JSON document that lists one manifest per platform, each by
# its digest (the SHA-256 of its bytes). A registry stores exactly that, so we
# start one: `layerlab registry up` runs the `registry:2` image (offline, a
# stand-in built from Debian's `docker-registry` package) on `localhost:5000`.

# %%
reg = registry.up()
print(reg.line())
assert reg.running and reg.api.startswith("200")

# %%
guess_manifests = activities.predict("05", "index-manifests")
guess_manifests

# %% [markdown]
# `docker push` sends every platform of the image and then the index. We read
# back what the registry holds through its own HTTP API
# (`GET /v2/<name>/manifests/<tag>`), the same request a `docker pull` makes.

# %%
import json

pushed = registry.push(builds["cross-compile"].tag, "05-app:cross-compile")
ix = registry.index(pushed.ref)
print(f"pushed {pushed.ref} in {pushed.seconds:.1f} s; index digest {pushed.digest}")
print(json.dumps(ix.raw, indent=1))

# %%
print(ix.table())
assert sorted(ix.platforms) == PLATFORMS
assert ix.digest == pushed.digest and ix.media_type == "application/vnd.oci.image.index.v1+json"
assert len(ix.attestations) == len(PLATFORMS), "one attestation manifest per platform"
assert {a.attests for a in ix.attestations} == {e.digest for e in ix.images}
guess_manifests.reveal(len(ix.entries), note=f"{len(ix.images)} images and {len(ix.attestations)} attestation manifests (unknown/unknown).")

# %% [markdown]
# Four entries, not two. The two `unknown/unknown` ones are **attestation
# manifests** that buildx (0.10 and later) adds by default: each holds a
# provenance record of how its image was built (the build's inputs and
# parameters), and its annotation `vnd.docker.reference.digest` names the
# image it describes. A client that pulls for `linux/arm64` skips them. Older
# tools and some registries list them as a third "platform", which confuses
# scripts that count platforms. Turn them off with `--provenance=false` (or
# `BUILDX_NO_DEFAULT_ATTESTATIONS=1`) when a consumer cannot cope; keep them
# when you want to be able to prove how an image was made (lesson 09).
#
# Digests are content addresses: the index digest pins *both* platforms at
# once, so `image@sha256:...` in a deployment gets the same bytes on every
# machine. The per-platform sizes, from the registry's manifests (compressed,
# what a pull downloads) and from `layerlab inspect` (uncompressed, on disk):

# %%
report = inspector.inspect(builds["cross-compile"].tag)
per_platform = {p: inspector.inspect(builds["cross-compile"].tag, platform=p) for p in PLATFORMS}
compressed = {ps.platform: ps.compressed_bytes for ps in report.platforms}
for p in PLATFORMS:
    print(f"{p:<12} registry: {ix.entry(p).layers_bytes / 1e6:5.1f} MB compressed in {ix.entry(p).layers} layers; "
          f"layerlab inspect: {compressed[p] / 1e6:5.1f} MB compressed, {per_platform[p].size_bytes / 1e6:5.1f} MB on disk")
    assert abs(ix.entry(p).layers_bytes - compressed[p]) <= 0.02 * compressed[p], "the registry holds what the store holds"
assert all(per_platform[p].find("/opt/site/fastscore*") for p in PLATFORMS)

# %% [markdown]
# The two halves are close in size but not equal: numpy's arm64 wheel and
# the aarch64 base image are different files.
#
# ## Challenge: which digest does an arm64 machine pull?
#
# A Graviton server that pulls `localhost:5000/05-app:cross-compile` first
# reads the index above, then fetches one manifest by digest. Find that digest
# in `ix.raw` (the JSON printed above) with a line of Python. The check asks
# the registry for the manifest you name and reads its image's architecture.

# %%
activities.challenge("05-arm64-digest")

# %%
ARM64_DIGEST = None  # ARM64_DIGEST = next(m["digest"] for m in ix.raw["manifests"] if ...)

# %%
import layerlab

layerlab.check("05-arm64-digest", ARM64_DIGEST, ref=pushed.ref)

# %%
activities.solution("05-arm64-digest")

# %% [markdown]
# ## Where emulation still belongs
#
# Cross-building needs two things: a wheel for the target on PyPI (or a cross
# toolchain for what you compile), and a build that does not have to *run* the
# code it makes. When a dependency has no arm64 wheel and its build runs its
# own binaries (code generators, a `setup.py` that probes the machine), or a
# test has to run on arm64 before you publish, emulation is the honest tool.
# It is also fine for steps that are cheap anyway: a `COPY`, a `useradd`. What
# it costs, measured above on this machine:

# %%
naive = builds["naive"]
slowest = max(naive.emulated("linux/arm64"), key=lambda s: s.seconds)
native_twin = next(s for s in naive.ran if s.platform == "linux/amd64" and s.stage == slowest.stage and s.index == slowest.index)
print(f"step `{slowest.name[:60]}`: {native_twin.seconds:.1f} s native, {slowest.seconds:.1f} s emulated "
      f"({slowest.seconds / native_twin.seconds:.1f} x)")
assert slowest.seconds > 2 * native_twin.seconds

# %% [markdown]
# Published numbers agree on the order of magnitude: compiled-from-source
# builds under qemu run 6 to 10 times slower than native (a pydantic build
# went from 9 to 69 minutes), and one project cut a 45-minute emulated
# cross-platform build to 6-7 minutes by cross-compiling. Installing ready
# wheels under emulation is tolerable; compiling is not. When emulation is too
# slow and cross-compiling is impossible, build each platform on a native
# runner (an arm64 CI machine) and join the two with
# `docker buildx imagetools create` into one index.

# %%
lesson.key_points()

# %% [markdown]
# ## Exercise `05-multiarch`
#
# `exercises/05-multiarch/` builds the app for both platforms with every `RUN`
# emulated. Make the arm64 build cross-built, so that no install or compile
# step runs under emulation, while both platforms still print the same, and
# grade it: `layerlab grade exercises/05-multiarch`.

# %%
print("Figures measured in this run (cold builds, step time per platform):")
for w in WAYS:
    print(f"  {WAYS[w]:<28} amd64 {times[w]['linux/amd64']:6.1f} s, arm64 {times[w]['linux/arm64']:6.1f} s, wall {builds[w].seconds:6.1f} s")
print(f"  naive arm64 / amd64: {slowdown:.1f} x; cross-compiled arm64 {speedup['cross-compile']:.1f} x faster than naive")
print(f"  index {ix.digest[:19]}…: {len(ix.images)} images, {len(ix.attestations)} attestations")

# %%
activities.quiz("05")
