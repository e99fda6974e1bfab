# %% [markdown]
# # 05 · One image, two CPUs: buildx multi-arch
#
# > **Instructor note.** This lesson builds one app for the engine's own
# > platform and the foreign one (linux/amd64 and linux/arm64, whichever this
# > engine is not) two ways, each cold (`--no-cache`) so that the times
# > compare, then pushes the result to a real registry on `localhost:5000`
# > (`layerlab registry up`; offline the first start builds a stand-in
# > registry image from Debian's `docker-registry` package).
# > Only one small C extension compiles under qemu; the two cold builds are
# > most of the warm run recorded below, and a build sharing the engine slows
# > them most. It needs the containerd image store and qemu for the foreign platform
# > (`layerlab doctor`). `layerlab clean` removes the images and the registry afterwards.
# > Recorded by `layerlab warm --record` on 2026-12-02, docker 26.1.5+dfsg1 (containerd image store) on Debian GNU/Linux 12 (bookworm), linux/amd64, 2 CPU (AMD EPYC), 25 GB memory, load average 1.6: first run 84 s (cold: none of its images existed), warm run 84 s.

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
# differs. The engine says which platform it is (*native*), and the lesson
# builds for the other of amd64 and arm64 too (*foreign*), which it must be
# able to emulate:

# %%
from layerlab.course import plots
from layerlab.engine import platforms, registry
from layerlab.measure import inspector

P = platforms.current()
NATIVE, FOREIGN = P.native, P.foreign
PLATFORMS = P.both  # native first
print(P.line())
assert P.foreign_runs, f"this engine cannot run {FOREIGN}: `layerlab doctor` says how to add qemu"

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
    print(f"{p:<12} {'native' if p == NATIVE else 'foreign':<8} {r.seconds:5.2f} s  {r.output.strip()}")
MACHINE = {"linux/amd64": ("x86_64", "ld-linux-x86-64"), "linux/arm64": ("aarch64", "ld-linux-aarch64")}
for p in PLATFORMS:
    assert seen[p].output.split()[0] == MACHINE[p][0] and MACHINE[p][1] in seen[p].output, seen[p].output

# %% [markdown]
# The foreign container is sure it runs on that CPU. It does not: the
# kernel hands every foreign program to **qemu**, registered as the interpreter
# for that architecture's binaries (`binfmt_misc`), which translates its
# instructions to native ones as it goes. It works, and it is slow.
#
# Without that emulator the start fails with `exec format error`: the kernel
# was given machine code for another CPU. It is what a colleague on an amd64
# server sees when you hand over an image built on your M-series Mac, where
# the default platform is `linux/arm64`. Docker may warn first: *the requested
# image's platform (linux/arm64) does not match the detected host platform
# (linux/amd64)*. The fix is never a flag at run time; it is an image built for
# both platforms. Building twice, once per `--platform`, under two tags, is the
# common workaround: two tags, and every user has to pick the right one. One
# build with `--platform linux/amd64,linux/arm64` produces **one** tag that
# names an *image index*, and each machine pulls its own half.
#
# ## The app, built two ways
#
# The app scores customers with numpy (a real wheel with compiled code,
# published for both architectures) and `fastscore`, lesson 04's C extension
# (which has to be compiled for each):

# %%
lesson.show("app", "serve.py")
lesson.show("app", "requirements.txt")

# %% [markdown]
# The obvious file is lesson 04's multi-stage one built for both platforms:
# every stage is then built *for* the target, so for the foreign platform every
# `RUN` executes under qemu, pip and its resolver included. We do not build it
# here (pip alone under qemu takes minutes); instead the one step that really
# has to produce foreign machine code, compiling `fastscore`, is compared
# emulated against native in the same build.
#
# **Getting the target's wheels without running the target.** `FROM
# --platform=$BUILDPLATFORM` pins a stage to the machine that builds, so its
# `RUN`s are native. pip in that stage can download the *target's* wheels into
# a folder (`--target`) that the runtime stage copies: `--platform` names the
# wheel tags to accept, `--python-version` and `--implementation` the
# interpreter. pip refuses such an install unless it may use wheels only
# (or skips dependencies), because it could not build anything for a
# platform it is not running on:

# %%
refused = lesson.run("python:3.13-slim", ["pip", "install", "--target", "/tmp/t", "--platform",
                                          "manylinux_2_17_aarch64", "numpy==2.2.6"], platform=NATIVE)
print(f"exit {refused.exit_code}: {refused.output.strip()[-300:]}")
assert not refused.ok and "--only-binary=:all:" in refused.output, "pip accepted --platform without --only-binary"

# %% [markdown]
# `--platform` takes wheel tags literally: `manylinux2014_aarch64` matches
# only wheels tagged for glibc 2.17 (and pip adds only the older
# `manylinux2010`/`manylinux1` aliases, for x86). numpy 2.2 still publishes
# glibc-2.17 wheels; newer releases (numpy 2.5) publish only `manylinux_2_28`,
# which that one flag never matches. So the files below pass every
# `manylinux_2_N` tag from 17 up to the target's glibc (read with `getconf` in
# the builder, which is the same Debian release as the runtime image). `uv pip
# install --python-platform aarch64-manylinux_2_41` expands the range itself.
# `TARGETARCH` (`amd64` or `arm64`) is set by BuildKit for each platform it
# builds.
#
# **1. Wheels cross-installed, extension compiled under emulation.** The C
# extension compiles on the target platform with the target's own gcc: for
# the foreign platform, under qemu.

# %%
lesson.show("cross-wheels")

# %% [markdown]
# **2. Cross-compiled.** The builder runs natively and installs Debian's cross
# compiler for the target (`gcc-aarch64-linux-gnu`, or `gcc-x86-64-linux-gnu`
# on an arm64 engine) and the target's Python headers (Debian's multiarch:
# `libpython3.13-dev:arm64` installs next to the native packages).
# `TARGETARCH` chooses the compiler. The last stage only copies files, so
# nothing at all runs under emulation.

# %%
lesson.show("cross-compile")

# %% [markdown]
# **Predict, then measure.** In build 1, the same `gcc` command compiles the
# same 40-line C file for both platforms, natively for one and under qemu for
# the other. How many times longer will the emulated compile take?

# %%
from layerlab.course import activities

guess_slowdown = activities.predict("05", "emulated-compile-ratio")
guess_slowdown

# %% [markdown]
# Each build is cold (`--no-cache`). BuildKit's plain progress names the
# platform of every step, `[linux/arm64 extension 4/4]`, and a step of a cross
# stage as `[linux/amd64->arm64 builder 4/4]`: it runs on amd64 and builds for
# arm64. The per-platform times below add up those steps' own durations. Both
# platforms build at the same time on the same cores, so a native step that
# overlaps an emulated one shares the CPU with it: the ratio printed is, if
# anything, too small.

# %%
WAYS = {"cross-wheels": "1. extension emulated", "cross-compile": "2. cross-compiled"}
builds, outputs = {}, {}
for w in WAYS:
    # provenance=True: what a plain `docker buildx build` does by default (layerlab's own builds leave it out).
    builds[w] = lesson.build(w, context=lesson.app, platforms=PLATFORMS, cache=False, provenance=True)
    # Each image runs on each platform at once: the check below compares what they printed.
    outputs.update({(w, p): lesson.run(builds[w].tag, platform=p) for p in PLATFORMS})
times = {w: r.platform_seconds() for w, r in builds.items()}
for w, r in builds.items():
    emulated = r.emulated(FOREIGN, host=NATIVE)
    print(f"{WAYS[w]:<24} {NATIVE} {times[w][NATIVE]:6.1f} s   {FOREIGN} {times[w][FOREIGN]:6.1f} s   "
          f"wall {r.seconds:6.1f} s   RUN steps under qemu: {len(emulated)}")
plots.platform_time_groups({WAYS[w]: t for w, t in times.items()},
                           title="One app for two platforms, two ways (cold builds, step seconds)",
                           replayed=builds.values());

# %%
def compile_step(build, platform):
    """The step that compiled fastscore.c for `platform`."""
    return next(s for s in build.ran if s.platform == platform and "fastscore.c -lm" in s.name)


emu = {p: compile_step(builds["cross-wheels"], p) for p in PLATFORMS}
cross = compile_step(builds["cross-compile"], FOREIGN)
slowdown = emu[FOREIGN].seconds / emu[NATIVE].seconds
print(f"gcc for {NATIVE} (native): {emu[NATIVE].seconds:.1f} s; for {FOREIGN} under qemu: {emu[FOREIGN].seconds:.1f} s "
      f"({slowdown:.1f} x); cross gcc for {FOREIGN}: {cross.seconds:.1f} s")
assert [s.stage for s in builds["cross-wheels"].emulated(host=NATIVE)] == ["extension"], "only the compile is emulated"
assert not builds["cross-compile"].emulated(host=NATIVE), "the cross-compiled build runs nothing under qemu"
assert slowdown >= 3, "the same compile under qemu takes several times the native one"
assert 3 * cross.seconds <= emu[FOREIGN].seconds, "the cross compiler builds for the foreign platform at native speed"

# %%
guess_slowdown.reveal(slowdown,
                      note=f"gcc {emu[NATIVE].seconds:.1f} s native, {emu[FOREIGN].seconds:.1f} s under qemu.")

# %% [markdown]
# Same C code, same flags, same compiler version. What differs is only
# *where* the `RUN` executes. Look at the totals too: the cross-compiled build
# is not faster as a whole here, because installing the cross toolchain (the
# `apt-get` step) costs more than emulating one small compile. That cost is
# fixed; the emulated compile grows with the code. A real extension compiles
# for minutes natively, and every one of those minutes is multiplied:

# %%
apt = max(builds["cross-compile"].ran, key=lambda s: s.seconds)
print(f"cross-compile's longest step ({apt.platform}): {apt.seconds:.1f} s  `{apt.name[:70]}…`")
assert "apt-get install" in apt.name, "the toolchain install is the cross build's main cost"

# %% [markdown]
# Fast is worth nothing if the result is wrong. Each image ran on each
# platform right after its build:

# %%
reference = outputs[("cross-compile", NATIVE)]
print(reference.output)
for (w, p), out in outputs.items():
    print(f"{WAYS[w]:<24} {p:<12} exit {out.exit_code}, {out.seconds:5.2f} s, "
          f"same output: {out.output == reference.output}")
assert all(o.ok and o.output == reference.output for o in outputs.values())
arch = {p: lesson.run(builds["cross-compile"].tag, ["python", "-c", "import platform; print(platform.machine())"], platform=p)
        for p in PLATFORMS}
assert all(arch[p].output.strip() == MACHINE[p][0] for p in PLATFORMS)

# %% [markdown]
# The foreign images ran here under qemu, so "runs and prints the same" is a
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
local_index = builds["cross-compile"].image_id
stored = {p: registry.blobs(pushed.ref, p) for p in PLATFORMS}  # HEADs every layer blob; raises if one is missing
per_platform = {p: inspector.inspect(builds["cross-compile"].tag, platform=p) for p in PLATFORMS}
for p in PLATFORMS:
    b = stored[p]
    print(f"{p:<12} manifest {b.manifest_digest[:19]}…  {len(b.layers)} layer blobs present, "
          f"{sum(b.layers.values()) / 1e6:5.1f} MB compressed; on disk {per_platform[p].size_bytes / 1e6:5.1f} MB")
    assert b.manifest_digest == ix.entry(p).digest, "the registry serves the manifest the index names"
    assert sum(b.layers.values()) == ix.entry(p).layers_bytes, "every layer blob is there, at the size listed"
print(f"index: {local_index[:19]}… in the local store, {pushed.digest[:19]}… in the registry")
assert pushed.digest == local_index, "the registry holds the store's index, byte for byte (so both manifests)"
assert all(per_platform[p].find("/opt/site/fastscore*") for p in PLATFORMS)

# %% [markdown]
# The index digest is the hash of a document that lists each platform's
# manifest digest, and each manifest lists its layers' digests: equal index
# digests mean the registry holds exactly what the store holds, and the
# `HEAD /v2/<name>/blobs/<digest>` requests show that every layer is there.
# The two halves are close in size but not equal: numpy's wheel and the base
# image are different files for each architecture.

# %%
size = {p: sum(stored[p].layers.values()) for p in PLATFORMS}
diff = size[FOREIGN] - size[NATIVE]
print(f"{FOREIGN} minus {NATIVE}: {diff / 1e6:+.1f} MB compressed ({diff / size[NATIVE]:+.1%})")
assert diff != 0 and abs(diff) < 0.25 * size[NATIVE], "close in size, not equal"

# %% [markdown]
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
# code it makes. When a dependency has no wheel for the target and its build
# runs its own binaries (code generators, a `setup.py` that probes the
# machine), or a test has to run on the target before you publish, emulation
# is the honest tool. It is also fine for steps that are cheap anyway: a
# `COPY`, a `useradd`.

# %%
print(f"measured here: the same gcc step {slowdown:.1f} x slower under qemu ({FOREIGN} on {NATIVE})")

# %% [markdown]
# Published figures for real builds agree on the
# order of magnitude: wheels compiled under qemu run 6 to 10 times slower than
# native ([pypa/cibuildwheel#1189](https://github.com/pypa/cibuildwheel/issues/1189)),
# and a pydantic build step went from 9 to 69 minutes under qemu
# ([docker/setup-qemu-action#22](https://github.com/docker/setup-qemu-action/issues/22)).
# When emulation is too slow and cross-compiling is impossible, build each
# platform on a native runner (an arm64 CI machine) and join the two with
# `docker buildx imagetools create` into one index.
#
# ## What CI does differently
#
# **The builder.** `docker/setup-buildx-action` in GitHub Actions creates a
# builder with the `docker-container` driver: BuildKit in its own container,
# with its own cache, not the engine's image store. Its results reach
# `docker images` only with `--load`, and `--load` of a multi-platform build
# needs the engine's containerd image store; on the classic store it fails
# with "docker exporter does not currently support exporting manifest lists"
# ([Docker docs: multi-platform in GitHub Actions](https://docs.docker.com/build/ci/github-actions/multi-platform/)).
# `--push` always works. This lesson uses the engine's own `docker` driver with
# the containerd store, which keeps the index locally.
#
# **`ARG TARGETARCH` is per stage.** BuildKit sets `TARGETARCH`, but a stage
# sees it only after its own `ARG TARGETARCH`. A two-stage file where only the
# first declares it, built for this machine:

# %%
import time

lesson.show("targetarch")
RUN_ID = str(time.time_ns())  # new steps in every lesson run, so the cache demo below starts cold
one = lesson.build("targetarch", platforms=[NATIVE], cache=False, build_args={"RUN_ID": RUN_ID})
said = lesson.run(one.tag, platform=NATIVE).output
print(said)
native_arch = NATIVE.split("/")[1]
assert f"declared:   TARGETARCH=[{native_arch}]" in said and "undeclared: TARGETARCH=[]" in said

# %% [markdown]
# **Cache is per platform.** The same file, now built for both platforms,
# right after the native-only build: which steps come from the cache?

# %%
both = lesson.build("targetarch", platforms=PLATFORMS, build_args={"RUN_ID": RUN_ID})
for st in both.steps:
    if st.index is not None and st.platform and st.name.startswith("RUN"):
        print(f"{st.platform:<12} {'CACHED' if st.cached else f'ran {st.seconds or 0:.1f} s':<12} {st.name[:60]}")
runs = [st for st in both.steps if st.index is not None and st.platform and st.name.startswith("RUN")]
assert {st.platform for st in runs if st.cached} == {NATIVE} and {st.platform for st in runs if st.ran} == {FOREIGN}

# %% [markdown]
# Each platform's steps have their own cache keys (their base image differs),
# so a cache filled by one platform's build does nothing for the other. In CI,
# export the cache of every platform from one multi-platform build
# (`--cache-to type=registry,ref=...,mode=max`), or, with one native runner per
# platform, give each platform its own cache ref.

# %%
lesson.key_points()

# %% [markdown]
# ## Exercise `05-multiarch`
#
# `exercises/05-multiarch/` builds the app for both platforms with every `RUN`
# emulated. Its app has a second C extension that links zlib, which the
# cross-compile above never needed. Make the foreign build cross-built, so
# that no install or compile step runs under emulation, while both platforms
# still print the same, and grade it: `layerlab grade exercises/05-multiarch`.

# %%
print(f"Figures measured in this run ({NATIVE} native, {FOREIGN} emulated; cold builds, step seconds):")
for w in WAYS:
    print(f"  {WAYS[w]:<24} {NATIVE} {times[w][NATIVE]:6.1f} s, {FOREIGN} {times[w][FOREIGN]:6.1f} s, "
          f"wall {builds[w].seconds:6.1f} s")
print(f"  the same gcc step: {slowdown:.1f} x slower under qemu than native")
print(f"  index {ix.digest[:19]}…: {len(ix.images)} images, {len(ix.attestations)} attestations")

# %%
activities.quiz("05")
