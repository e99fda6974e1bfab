# %% [markdown]
# # 00 · Set-up and doctor
#
# > **Instructor note.** Before class run `make setup` (or `layerlab bootstrap`)
# > on the teaching machine: on a fresh offline machine it builds the base
# > images (the set-up's own log times each one), and afterwards this notebook
# > takes the warm time recorded below. The cells below start real containers,
# > so they also warm the engine.
# > Recorded by `layerlab warm --record` on 2026-12-02, docker 26.1.5+dfsg1 (containerd image store) on Debian GNU/Linux 12 (bookworm), linux/amd64, 2 CPU (AMD EPYC), 25 GB memory, load average 3.0: first run 33 s, warm run 13 s.

# %%
from layerlab.course.lesson import Lesson

lesson = Lesson("00")
lesson.objectives()

# %% [markdown]
# Every later lesson builds real images on *your* engine and measures them.
# This notebook checks that the engine can do what the course needs, and shows
# how to read the report when it cannot.

# %%
from layerlab.course import doctor

report = doctor.run(replay_if_no_engine=True)
print(report.table())

# %% [markdown]
# ## Reading the report
#
# - **engine**: the container engine that answered, and its version. Docker 26 or
#   newer (or Podman) is what the course is tested on.
# - **buildx**: the BuildKit front end. Every build in the course goes through it:
#   it reports which steps came from the cache, which is what lesson 03 measures.
# - **image store**: `containerd` can hold one image for several platforms at once.
#   The older `classic` store keeps one platform per tag, so lesson 05's
#   multi-platform builds cannot be loaded.
# - **platform linux/arm64**: on an x86 machine, arm64 programs run through the
#   qemu emulator registered with the kernel (`binfmt_misc`). Slow, but real.
# - **gpu runtime**: whether containers can see an NVIDIA GPU. Only lesson 06's
#   GPU cell needs one; without it that cell skips the run, and the lesson shows
#   a run recorded on a GPU machine, labelled as recorded.
# - **registry**: when Docker Hub is reachable the official images are pulled;
#   otherwise `layerlab bootstrap` builds *stand-ins* from Debian packages.
# - **image ...**: the three base images the lessons start from, and the
#   platforms on which a container of each really started.
#
# A `FAIL` line comes with a fix under **What to do**. Fix it and run the cell again.

# %% [markdown]
# The course cannot go on without the engine, so this cell stops here when it is missing.

# %%
facts = report.engine
lesson.require()
print(f"{facts.name} {facts.server_version}, image store {facts.image_store}, "
      f"builder platforms {', '.join(facts.builder_platforms)}")

# %% [markdown]
# ## Proof, not version numbers
#
# `docker --version` only proves that the *client* is installed. The doctor
# goes further: for each base image and platform it started a container and
# read what `uname -m` printed inside. `x86_64` is an amd64 kernel interface,
# `aarch64` an arm64 one; under emulation the arm64 container believes it runs
# on an arm64 machine.

# %%
for ref, img in report.images.items():
    seen = ", ".join(f"{p} -> {m}" for p, m in (img.uname if img else {}).items())
    kind = "missing" if img is None else ("stand-in" if img.standin else "official")
    print(f"{ref:<20} {kind:<9} {seen}")

# %% [markdown]
# Each base must start on the engine's own (*native*) platform. The *foreign*
# one, the other of amd64 and arm64, is held too where the image store keeps
# several platforms under one tag (containerd) and qemu can run it; the classic
# store keeps one platform per tag, so there the bases are native only.

# %%
from layerlab import engine

NATIVE, FOREIGN = facts.native, facts.foreign
BOTH = facts.multiplatform_load and FOREIGN in facts.emulated
for ref, img in report.images.items():
    assert img is not None, f"{ref} is missing: run `layerlab bootstrap`"
    assert img.uname.get(NATIVE) == engine.UNAME_BY_PLATFORM[NATIVE], img
    if BOTH:
        assert img.uname.get(FOREIGN) == engine.UNAME_BY_PLATFORM[FOREIGN], img
print(f"every base starts on {NATIVE}" + (f" and on {FOREIGN}" if BOTH else
      f"; {FOREIGN} variants are not held ({facts.image_store} image store)"))

# %% [markdown]
# ## Predict, then measure: emulation and the base image
#
# Commit to two numbers before they are measured: type a guess in each box
# (in JupyterLab), then run the cells below. Each guess is shown next to the
# measurement; it stays in this notebook only, and an empty box is fine.

# %%
from layerlab.course import activities

guess_slowdown = activities.predict("00", "arm64-slowdown")
guess_slowdown

# %%
guess_slim = activities.predict("00", "slim-size-mb")
guess_slim

# %% [markdown]
# The same one-line Python program, started natively and under emulation of
# the foreign platform (a first run each warms the engine's caches, the second
# is measured). Where the store holds no foreign variant, only the native run
# happens and lesson 05 is where emulation gets measured.

# %%
from layerlab.measure import inspector

timed = {}
for platform in (NATIVE, FOREIGN) if BOTH else (NATIVE,):
    for _ in range(2):
        r = lesson.run("python:3.13-slim", ["python", "-c", "print(1)"], platform=platform, timeout=120)
    assert r.ok, r.output
    timed[platform] = r.seconds
    print(f"{platform}: {r.seconds:.2f} s from start to exit")
if BOTH:
    guess_slowdown.reveal(timed[FOREIGN] / timed[NATIVE])
else:
    print(f"not measured here: python:3.13-slim has no {FOREIGN} variant in the {facts.image_store} image store")

# %%
slim_image = inspector.inspect("python:3.13-slim")
guess_slim.reveal(slim_image.size_bytes / 1e6, note=f"({len(slim_image.layers)} layers here)")

# %% [markdown]
# ## Stand-ins
#
# Offline, `python:3.13-slim` on this machine is not Docker Hub's image but a
# stand-in built from the same Debian release (13, "trixie") and the same
# Python minor version (3.13). Its labels say so, and how it was made:

# %%
slim = report.images["python:3.13-slim"]
print("stand-in:", slim.standin)
print("recipe:  ", slim.recipe or "(official image)")

# %% [markdown]
# A stand-in is close to the official image, not the same. Debian's Python
# lives under `/usr` and the slim stand-in has no C headers; the official
# images build CPython into `/usr/local` and keep its headers there. Measured
# from each image on this machine (on official images the list is empty):

# %%
from layerlab.measure import standins

for ref, img in report.images.items():
    diffs = standins.differences(ref)
    print(f"{ref}: {'stand-in' if img.standin else 'official'}, {len(diffs)} difference(s)")
    print("".join(f"  - {line}\n" for line in diffs), end="")
    assert bool(diffs) == img.standin, "a stand-in lists at least its size; an official image matches its layout"

# %% [markdown]
# That is why no lesson asserts on one layout ("no `Python.h` in the image"):
# each measures its base in the same run and asserts what a build *adds* to it.

# %% [markdown]
# The stand-ins also carry this machine's CA certificates. Where a proxy
# inspects TLS traffic (common on corporate and campus networks), `pip install`
# inside a container fails certificate checks unless the proxy's certificate
# is trusted inside the image. The last cell proves that pip can reach the
# package index from inside a container.

# %%
pip = lesson.run("python:3.13-slim", ["pip", "download", "--no-deps", "--quiet", "-d", "/tmp/d", "six==1.16.0"],
                 timeout=120)
assert pip.ok, f"pip could not reach the index from a container:\n{pip.output}"
print("pip reached the index from inside a container")

# %% [markdown]
# ## Challenge: ask a container of the foreign platform for its Python version
#
# `lesson.run(image, command, platform=...)` starts a container
# and returns what it printed (`.output`), its exit code and its platform.
# Start `python:3.13-slim` **for the foreign platform** (`FOREIGN` above:
# linux/arm64 on a PC, linux/amd64 on Apple silicon) and make it print its
# Python version; put the result into `result` and run the check. It needs
# the store to hold that variant (`BOTH` above).

# %%
activities.challenge("00-arm64-python")

# %%
result = None  # result = lesson.run(...)

# %%
import layerlab

layerlab.check("00-arm64-python", result)

# %%
activities.solution("00-arm64-python")

# %% [markdown]
# ## When something is red
#
# - Run `layerlab doctor` in a terminal: the same report, and `--json` for a bug report.
# - `make setup` is safe to re-run: it reuses whatever already works.
# - `layerlab clean` removes everything the course created (and nothing else).

# %%
lesson.key_points()

# %%
activities.quiz("00")
