# %% [markdown]
# # 04 · Multi-stage builds
#
# > **Instructor note.** This lesson builds one small app four ways, each
# > cold (`--no-cache`) so that the build times compare, plus a test stage,
# > and a 64 MiB weights image (cached after the first run). Nothing here
# > needs arm64 or a GPU.
# > `layerlab clean` removes the images afterwards.
# > Recorded by `layerlab warm --record` on 2026-12-02, docker 26.1.5+dfsg1 (containerd image store) on Debian GNU/Linux 12 (bookworm), linux/amd64, 2 CPU (AMD EPYC), 25 GB memory, load average 1.6: first run 93 s (cold: none of its images existed), warm run 82 s.

# %%
from layerlab.course.lesson import Lesson

lesson = Lesson("04")
lesson.require()
lesson.objectives()

# %% [markdown]
# Many ML packages contain compiled code. When pip finds no wheel for your
# platform it builds one from source, and then the image needs a C compiler
# and the Python headers **while it builds**, and never again. This lesson's
# app depends on such a package, `fastscore`, a few lines of C:

# %%
import re

from layerlab.course import plots
from layerlab.measure import inspector

TOOL = re.compile(r"^(?:[\w.]+-linux-gnu\w*-)?(?:gcc(?:-\d+)?|cc|c\+\+|g\+\+(?:-\d+)?|cpp(?:-\d+)?|as|ld(?:\.bfd|\.gold)?)$")


def toolchain(img):
    """The compiler, assembler and linker programs in an image's bin folders."""
    return {p for p in img.find("/usr/*bin/*") if TOOL.match(p.rsplit("/", 1)[1])}


def headers(img):
    """Every C header file (*.h) in an image, wherever its Python or libc put them."""
    return set(img.find("*.h"))


lesson.show("app", "setup.py")
base = inspector.inspect(lesson.base("python-slim"))
full = inspector.inspect(lesson.base("python-full"))
for name, img in ((lesson.base("python-slim"), base), (lesson.base("python-full"), full)):
    print(f"{name:<17} {img.size_bytes / 1e6:4.0f} MB, compiler programs: {len(toolchain(img)):3}, "
          f"C headers: {len(headers(img)):5}, Python.h: {', '.join(img.find('*/Python.h')) or 'none'}")
assert toolchain(full) and not toolchain(base), "the full image can compile, the slim one cannot"

# %% [markdown]
# ## Three ways to build it
#
# **Naive**: the full `python` image has everything needed to compile, so
# the build just works, and the image ships all of it.

# %%
lesson.show("naive")

# %% [markdown]
# **Slim, one RUN**: start from the slim image, install the compiler, build,
# and remove the compiler in the same `RUN` (lesson 02's rule).

# %%
lesson.show("one-run")

# %% [markdown]
# **Multi-stage**: a Dockerfile may have several `FROM` lines, each starting
# a *stage*. Only the last stage becomes the image; `COPY --from=<stage>`
# takes files out of an earlier one. The builder compiles into a virtual
# environment, a single folder that holds every installed package, and the
# runtime stage copies that folder onto the slim image.

# %%
lesson.show("multi-stage")

# %% [markdown]
# **Predict, then measure.** Before the three builds run, guess how the
# multi-stage image compares with the naive one (type it in the box in
# JupyterLab; an empty box is fine):

# %%
from layerlab.course import activities

guess_share = activities.predict("04", "multi-share")
guess_share

# %%
# Cold builds (--no-cache) of the app with each variant's Dockerfile, so their times compare.
builds = {v: lesson.build(v, context=lesson.app, cache=False) for v in ("naive", "one-run", "multi-stage")}
images = {v: inspector.inspect(r.tag) for v, r in builds.items()}
labels = ["naive (python:3.13)", "slim, one RUN", "multi-stage"]
plots.size_bars(list(images.values()), labels, title="The same app, three Dockerfiles");

# %%
fig = plots.platform_times({l: builds[v].seconds for l, v in zip(labels, builds)}, title="Cold build time (--no-cache)")
fig.axes[0].set_xlabel("Dockerfile");

# %%
naive, one_run, multi = images["naive"], images["one-run"], images["multi-stage"]
ratio = multi.size_bytes / naive.size_bytes
# Compared with the slim base measured above, not with a list typed in: the
# official python images keep Python's own headers in /usr/local/include, the
# course's offline stand-ins keep none, and neither may grow any.
for label, img in zip(labels, images.values()):
    print(f"{label:<20} {img.size_bytes / 1e6:6.1f} MB  compiler programs above slim: {len(toolchain(img) - toolchain(base)):3}  "
          f"headers above slim: {len(headers(img) - headers(base)):5}  wasted above base: {(img.wasted_bytes - base.wasted_bytes) / 1e6:.2f} MB")
print(f"multi-stage / naive: {ratio:.1%} (the course's goal: at most 25%)")
assert toolchain(naive) - toolchain(base), "the naive image ships a compiler"
assert not toolchain(one_run) - toolchain(base), f"one RUN left {sorted(toolchain(one_run) - toolchain(base))}"
assert not toolchain(multi) - toolchain(base), f"the runtime stage has {sorted(toolchain(multi) - toolchain(base))}"
assert not headers(multi) - headers(base), "no header the slim base lacks"
assert not headers(one_run) - headers(base), "the one-RUN purge took the headers with the compiler"
assert ratio <= 0.25, "the course's goal"
workdir_layers = [l for l in multi.layers if l.created_by.startswith("WORKDIR")]
print(f"layers made by WORKDIR in the multi-stage image: {len(workdir_layers)} ({workdir_layers[0].size_bytes} bytes of files: "
      "the folder it created)" if workdir_layers else "no WORKDIR layer")
assert len(workdir_layers) == 1, "WORKDIR /app created its folder: a layer, though not a RUN, COPY or ADD"
assert multi.size_bytes < one_run.size_bytes < naive.size_bytes
assert multi.size_bytes - base.size_bytes < 0.05 * (naive.size_bytes - base.size_bytes)
assert multi.wasted_bytes - base.wasted_bytes <= 1e6, "at most 1 MB wasted above the base's own"
assert builds["multi-stage"].seconds < builds["one-run"].seconds, "no apt in the multi-stage build"

# %%
guess_share.reveal(100 * ratio, note=f"Naive {naive.size_bytes / 1e6:.0f} MB, multi-stage {multi.size_bytes / 1e6:.0f} MB.")

# %% [markdown]
# The one-RUN image is small too, but its single `RUN` does everything: any
# change to the app re-downloads and reinstalls the compiler. In the
# multi-stage file the compiler comes with the builder's base image, cached
# like any other layer, and the runtime image is the slim base plus one
# folder. It also builds faster than the one-RUN file here: no apt at all.
#
# Measured: edit one line of `serve.py` (in a copy of the app) and rebuild
# both, this time with the cache.

# %%
import shutil
import tempfile
import uuid
from pathlib import Path

edited = Path(tempfile.mkdtemp(prefix="layerlab-04-")) / "app"
shutil.copytree(lesson.app, edited)
with open(edited / "serve.py", "a", encoding="utf-8") as f:
    f.write(f"# a one-line edit {uuid.uuid4().hex}\n")  # new each run, so no earlier run's cache matches
edits = {}
for v in ("one-run", "multi-stage"):
    edits[v] = lesson.build(f"{v}-edit", variant=v, context=edited, label="code edit")
    print(f"  {v:<12} re-ran: {', '.join(s.name[:40] for s in edits[v].ran)}")
assert any("apt-get install" in s.name for s in edits["one-run"].ran), "the edit reinstalls the compiler"
assert not any("apt-get" in s.name or "pip" in s.name for s in edits["multi-stage"].ran), "the builder stays cached"
assert edits["multi-stage"].seconds < edits["one-run"].seconds
#
# Does it still work? The extension was compiled against the builder's Python
# and runs on the runtime's: both images carry the same Python 3.13, which is
# what makes the copy safe (copy between *matching* base images only).

# %%
out = lesson.run(builds["multi-stage"].tag)
print(out.output)
assert out.ok and out.output == lesson.run(builds["naive"].tag).output

# %% [markdown]
# ## A user that is not root
#
# The runtime stage also creates a user and switches to it with `USER`, so
# the app cannot write to the system's files even if it is compromised. The
# setting is in the image's config, where the inspector reads it:

# %%
uid = lesson.run(builds["multi-stage"].tag, ["id", "-u"])
print(f"USER in the config: {multi.user!r}; id -u in the container: {uid.output.strip()}")
assert multi.user == "10001" and uid.ok and int(uid.output.strip()) == 10001
assert naive.user in ("", "root", "0"), "the naive image runs as root"

# %% [markdown]
# The `USER` is a number, not the name `app`: Kubernetes' `runAsNonRoot`
# can check a numeric user without reading the image's `/etc/passwd`, and
# refuses to start an image whose `USER` is a name it cannot verify.
#
# Can the app write to the system's files, or to its own code and packages?
# Each probe tries to create a file and reports whether it could:

# %%
probes = ["/usr/bin", "/usr/local/lib", "/etc", "/opt/venv", "/app", "/tmp"]
script = "; ".join(f"touch {d}/probe 2>/dev/null && echo {d} yes || echo {d} no" for d in probes)
wrote = lesson.run(builds["multi-stage"].tag, ["sh", "-c", script])
writable = dict(line.split() for line in wrote.output.split("\n") if line.strip())
print("writable by the app's user:", writable)
assert wrote.ok and all(writable[d] == "no" for d in probes[:-1]), "system files, packages and code are root's"
assert writable["/tmp"] == "yes", "and the probe itself works: /tmp is writable"

# %% [markdown]
# ## Challenge: the one-RUN image as an ordinary user
#
# The one-RUN image is small but runs as root. Starting from its Dockerfile
# (`lesson.dockerfile("one-run").read_text()`), make it run as a user
# that is not root, with the same output. The check builds it from the app's
# folder (about a minute) and runs `id -u` and the app in it.

# %%
activities.challenge("04-non-root")

# %%
AS_USER = None  # AS_USER = lesson.dockerfile("one-run").read_text() + ...

# %%
import layerlab

layerlab.check("04-non-root", AS_USER, context=lesson.app, expected_output=out.output)

# %%
activities.solution("04-non-root")

# %% [markdown]
# ## A test stage, built on request
#
# The `test` stage sits between the two: it starts from the builder, adds
# pytest and the tests, and runs them. A plain build skips it, because the
# runtime stage does not depend on it; `--target test` builds it (and what it
# needs) and stops there. Built cold here, so that the tests really run:

# %%
tested = lesson.build("multi-stage-test", variant="multi-stage", context=lesson.app, target="test", cache=False)
test_steps = [s.name for s in tested.steps if s.index is not None]
runtime_steps = [s.name for s in builds["multi-stage"].steps if s.index is not None]
pytest_step = next(s for s in tested.ran if "pytest -q" in s.name)
print("--target test ran:", *[f"  {s.name[:70]}" for s in tested.ran], sep="\n")
print("pytest said:", pytest_step.log[-1])
assert any("passed" in line for line in pytest_step.log)
assert not any("pytest" in s for s in runtime_steps), "the default target never builds the test stage"
assert not any("useradd" in s for s in test_steps), "and --target test never builds the runtime stage"

# %% [markdown]
# A failing test fails the build, so CI can run `docker build --target test .`
# before it builds and pushes the runtime image.
#
# ## `pip install --user` instead of a venv
#
# Without a venv, pip spreads a package over the system's directories. One
# way to gather it is `pip install --user`, which puts everything under
# `~/.local`. It works, but the copy has to land in the home of the user that
# runs the app and the scripts' paths depend on that home. The copy needs no
# `--chown`: Python only reads the packages, and leaving them root's keeps
# the app from rewriting its own code (the probe above):

# %%
lesson.show("user-copy")

# %%
guess_venv = activities.predict("04", "venv-kb")
guess_venv

# %%
user_build = lesson.build("user-copy", context=lesson.app, cache=False)
user_img = inspector.inspect(user_build.tag)
user_out = lesson.run(user_build.tag)
venv_bytes = sum(multi.files[p] for p in multi.find("/opt/venv/*"))
local_bytes = sum(user_img.files[p] for p in user_img.find("/home/app/.local/*"))
size_gap = user_img.size_bytes - multi.size_bytes
print(f"venv copy:   {multi.size_bytes / 1e6:.1f} MB image, /opt/venv {venv_bytes / 1e3:.0f} kB")
print(f"--user copy: {user_img.size_bytes / 1e6:.1f} MB image, ~/.local {local_bytes / 1e3:.0f} kB")
print(f"the two images differ by {size_gap / 1e3:+.1f} kB; the two folders by {(local_bytes - venv_bytes) / 1e3:+.1f} kB")
assert user_out.ok and user_out.output == out.output
# Both are the slim base plus one folder, so the images differ by what the
# folders differ by, to the kB (a 2% tolerance, 2.6 MB, could not see this).
assert abs(size_gap - (local_bytes - venv_bytes)) < 1e3, "the images differ only by the folder copied"

# %%
guess_venv.reveal(venv_bytes / 1e3, note=f"The whole image is {multi.size_bytes / 1e6:.0f} MB: the slim base is nearly all of it.")

# %% [markdown]
# Both images are the slim base plus a few tens of kB (the venv also carries
# its `pyvenv.cfg` and `bin/` links); the venv's advantage is that it does
# not care which user or home directory runs it, and its `bin/` is first on
# `PATH` like any activated environment.
#
# **Conda.** The same idea works for conda environments, which otherwise
# drag a whole conda installation and its package cache into the image (one
# published example: 950 MB for Python and NumPy). In the builder,
# `conda-pack` turns an environment into a relocatable archive; unpack it to
# `/venv`, run the `conda-unpack` script it contains, and `COPY --from` that
# folder onto a plain Debian runtime stage. Conda is not installed here, so
# we measured the venv equivalent above: the runtime image is the slim base
# plus the environment folder.

# %%
env_share = (multi.size_bytes - base.size_bytes) / multi.size_bytes
print(f"runtime image = base {base.size_bytes / 1e6:.1f} MB + {(multi.size_bytes - base.size_bytes) / 1e3:.0f} kB of layers ({env_share:.2%})")
assert multi.size_bytes - base.size_bytes >= venv_bytes

# %% [markdown]
# ## Which runtime base?
#
# The runtime stage could start from something smaller than slim:
#
# - **distroless** (`gcr.io/distroless/python3`): Debian's C library and
#   Python, without a shell, the core utilities or a package manager. Nothing
#   can be installed in it with `RUN`, so everything arrives by `COPY --from`,
#   and there is no `sh` to `docker exec` into when you debug.
# - **alpine** (`python:3.13-alpine`): a much smaller distribution built on
#   **musl** instead of glibc. The `manylinux` wheels most ML packages publish
#   need glibc and do not install there; pip needs a `musllinux` wheel or
#   compiles from source (this lesson's builder problem, with Alpine's
#   compilers). Not measured here.
#
# Offline we have neither image, so we measure the part we can: what the
# slim base spends on the shell, its tools and the package manager, which is
# what a distroless base leaves out (each package's files, summed inside the
# container).

# %%
TOOLS = ["bash", "dash", "coreutils", "findutils", "grep", "sed", "tar", "gzip", "util-linux", "apt", "dpkg", "perl-base"]
SUM_FILES = ('for p in "$@"; do dpkg -L "$p" | while read f; do [ -f "$f" ] && [ ! -h "$f" ] && stat -c %s "$f"; done'
             ' | awk -v p="$p" "{s+=\\$1} END {print p, s+0}"; done')
by_package = lesson.run(lesson.base("python-slim"), ["sh", "-c", SUM_FILES, "sh", *TOOLS])
tool_bytes = {p: int(n) for p, n in (line.split() for line in by_package.output.splitlines() if line.strip())}
python_bytes = sum(size for path, size in base.files.items() if "python3" in path)
print(", ".join(f"{p} {n / 1e6:.1f}" for p, n in sorted(tool_bytes.items(), key=lambda kv: -kv[1])), "(MB)")
print(f"shell, tools and package manager: {sum(tool_bytes.values()) / 1e6:.1f} MB of the slim base's {base.size_bytes / 1e6:.0f} MB; "
      f"Python's files: {python_bytes / 1e6:.1f} MB")
assert by_package.ok and sorted(tool_bytes) == sorted(TOOLS) and all(tool_bytes.values()), "every one is in slim"
assert sum(tool_bytes.values()) < 0.5 * base.size_bytes, "most of slim is what a distroless base keeps too"
assert python_bytes > sum(tool_bytes.values()), "Python itself outweighs the shell and package tools"

# %% [markdown]
# A distroless runtime would save about that much, and costs the shell you
# debug with; Alpine's saving is not measured here. In ML images the base is
# often not the big part (lesson 06's CUDA libraries outweigh it many times),
# so start from slim and move on only for a measured reason.
#
# ## Where model weights belong
#
# Three places to put a model's weights: **baked** into the image (`COPY`),
# **mounted** at run time (a bind mount, a volume, a Kubernetes volume), or
# **downloaded at start** (from object storage or a model hub). Measured with
# 64 MiB of random bytes as the weights, each run loading them once; the
# download is served from inside the container itself, over loopback, so it
# is a lower bound for a real network:

# %%
import os

LOAD = """
import hashlib, sys, time
t = time.perf_counter()
data = open('/models/model.bin', 'rb').read()
print(len(data), hashlib.sha256(data).hexdigest()[:12], round(time.perf_counter() - t, 3))
"""
DOWNLOAD = """
import hashlib, http.server, threading, time, urllib.request
class Quiet(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *a, **kw): super().__init__(*a, directory='/models', **kw)
    def log_message(self, *a): pass
server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Quiet)
threading.Thread(target=server.serve_forever, daemon=True).start()
t = time.perf_counter()
data = urllib.request.build_opener(urllib.request.ProxyHandler({})).open(f'http://127.0.0.1:{server.server_port}/model.bin').read()
print(len(data), hashlib.sha256(data).hexdigest()[:12], round(time.perf_counter() - t, 3))
"""
WEIGHTS = 64 * 2**20
weights_dir = Path(tempfile.mkdtemp(prefix="layerlab-04-weights-"))
(weights_dir / "model.bin").write_bytes(os.urandom(WEIGHTS))
mount = [(str(weights_dir), "/models", "ro")]
baked = lesson.image("weights-baked")
starts = {
    "baked in": lesson.run(baked.ref, ["python", "-c", LOAD]),
    "mounted": lesson.run(lesson.base("python-slim"), ["python", "-c", LOAD], volumes=mount),
    "downloaded at start": lesson.run(lesson.base("python-slim"), ["python", "-c", DOWNLOAD], volumes=mount),
}
loaded = {k: r.output.split() for k, r in starts.items()}
for k, r in starts.items():
    image = baked if k == "baked in" else base
    print(f"{k:<20} image {image.size_bytes / 1e6:5.0f} MB ({image.compressed_bytes / 1e6:3.0f} MB to pull), "
          f"loading {float(loaded[k][2]):.3f} s, container run {r.seconds:.2f} s")
weights_layer = baked.layers[-1]
assert all(r.ok and int(loaded[k][0]) == WEIGHTS for k, r in starts.items()), "each run loaded all the weights"
assert weights_layer.size_bytes >= WEIGHTS and weights_layer.compressed_bytes > 0.99 * WEIGHTS, \
    "baked weights grow the image and every pull by their full size: they do not compress"
assert float(loaded["downloaded at start"][2]) > float(loaded["mounted"][2]), "a download costs more than reading a file"
shutil.rmtree(weights_dir)

# %% [markdown]
# Baked in, the weights travel with every pull to every machine at full size
# (they do not compress), and a new model means a new image; in exchange
# the image's digest pins code and model together and the container starts
# with no network. Mounted, the image stays the slim base plus code and each
# start reads local disk, but the weights need a delivery of their own (a
# volume, a cache on the node). Downloaded at start, every start pays the
# transfer (here the loading time above, over loopback, the cheapest network
# there is) and needs the network and its credentials. Small models bake in
# well; for large ones, mount or download once into a cache volume.

# %%
lesson.key_points()

# %% [markdown]
# ## Exercise `04-multistage`
#
# `exercises/04-multistage/` holds a single-stage Dockerfile that ships a
# compiler. Turn it into a multi-stage build, then grade it (its `fastscore`
# is not quite this lesson's: read the error when the slim stage fails):
# `layerlab grade exercises/04-multistage`. The final image must have no
# compiler and no pip cache, run as a non-root user, add at most 1.15 times
# what the solution adds above its base (plus 2 MB) and print what the
# solution prints.

# %%
print("Figures measured in this run:")
for label, v in zip(labels, builds):
    img = images[v]
    print(f"  {label:<20} {img.size_bytes / 1e6:6.1f} MB, cold build {builds[v].seconds:5.1f} s, "
          f"wasted above base {(img.wasted_bytes - base.wasted_bytes) / 1e6:.2f} MB")
print(f"  --user copy          {user_img.size_bytes / 1e6:6.1f} MB, cold build {user_build.seconds:5.1f} s")
print(f"  multi-stage / naive: {ratio:.1%}")

# %%
activities.quiz("04")
