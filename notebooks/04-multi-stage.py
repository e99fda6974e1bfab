# %% [markdown]
# # 04 · Multi-stage builds
#
# > **Instructor note.** This lesson builds one small app four ways, each
# > cold (`--no-cache`) so that the build times compare, plus a test stage.
# > On 2 cores it takes about a minute. Nothing here needs arm64 or a GPU.
# > `layerlab clean` removes the images afterwards.
#
# Many ML packages contain compiled code. When pip finds no wheel for your
# platform it builds one from source, and then the image needs a C compiler
# and the Python headers **while it builds**, and never again. This lesson's
# app depends on such a package, `fastscore`, a few lines of C:

# %%
from layerlab import build, containers, inspector, lesson, plots

LESSON = "04-multi-stage"
HERE = lesson.LESSONS / LESSON
APP = HERE / "app"


def make(variant, target=None, cache=False):
    """Build the app with docker/lessons/04-multi-stage/<variant>/Dockerfile; cold unless cache=True."""
    name = variant if target is None else f"{variant}-{target}"
    return build.build(APP, lesson.tag(LESSON, name), dockerfile=HERE / variant / "Dockerfile", target=target, cache=cache, module="04")


lesson.show(APP / "setup.py", language="python")
base = inspector.inspect("python:3.13-slim")
full = inspector.inspect("python:3.13")
print(f"python:3.13-slim {base.size_bytes / 1e6:.0f} MB, gcc: {base.has('/usr/bin/gcc')}")
print(f"python:3.13      {full.size_bytes / 1e6:.0f} MB, gcc: {full.has('/usr/bin/gcc')}")

# %% [markdown]
# ## Three ways to build it
#
# **Naive**: the full `python` image has everything needed to compile, so
# the build just works, and the image ships all of it.

# %%
lesson.show(HERE / "naive" / "Dockerfile")

# %% [markdown]
# **Slim, one RUN**: start from the slim image, install the compiler, build,
# and remove the compiler in the same `RUN` (lesson 02's rule).

# %%
lesson.show(HERE / "one-run" / "Dockerfile")

# %% [markdown]
# **Multi-stage**: a Dockerfile may have several `FROM` lines, each starting
# a *stage*. Only the last stage becomes the image; `COPY --from=<stage>`
# takes files out of an earlier one. The builder compiles into a virtual
# environment, a single folder that holds every installed package, and the
# runtime stage copies that folder onto the slim image.

# %%
lesson.show(HERE / "multi-stage" / "Dockerfile")

# %% [markdown]
# **Predict, then measure.** Before the three builds run, guess how the
# multi-stage image compares with the naive one (type it in the box in
# JupyterLab; an empty box is fine):

# %%
from layerlab import activities

guess_share = activities.predict("04", "multi-share")
guess_share

# %%
builds = {v: make(v) for v in ("naive", "one-run", "multi-stage")}
images = {v: inspector.inspect(r.tag) for v, r in builds.items()}
labels = ["naive (python:3.13)", "slim, one RUN", "multi-stage"]
plots.size_bars(list(images.values()), labels, title="The same app, three Dockerfiles");

# %%
fig = plots.platform_times({l: builds[v].seconds for l, v in zip(labels, builds)}, title="Cold build time (--no-cache)")
fig.axes[0].set_xlabel("Dockerfile");

# %%
naive, one_run, multi = images["naive"], images["one-run"], images["multi-stage"]
ratio = multi.size_bytes / naive.size_bytes
for label, img in zip(labels, images.values()):
    print(f"{label:<20} {img.size_bytes / 1e6:6.1f} MB  gcc: {img.has('/usr/bin/gcc')!s:<5}  "
          f"headers: {bool(img.find('*/Python.h'))!s:<5}  wasted above base: {(img.wasted_bytes - base.wasted_bytes) / 1e6:.2f} MB")
print(f"multi-stage / naive: {ratio:.1%} (the course's goal: at most 25%)")
assert naive.has("/usr/bin/gcc") and not one_run.has("/usr/bin/gcc") and not multi.has("/usr/bin/gcc")
assert not multi.find("*/Python.h"), "no headers in the runtime either"
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
# Does it still work? The extension was compiled against the builder's Python
# and runs on the runtime's: both images carry the same Python 3.13, which is
# what makes the copy safe (copy between *matching* base images only).

# %%
out = containers.run(builds["multi-stage"].tag, module="04")
print(out.output)
assert out.ok and out.output == containers.run(builds["naive"].tag, module="04").output

# %% [markdown]
# ## A user that is not root
#
# The runtime stage also creates a user and switches to it with `USER`, so
# the app cannot write to the system's files even if it is compromised. The
# setting is in the image's config, where the inspector reads it:

# %%
uid = containers.run(builds["multi-stage"].tag, ["id", "-u"], module="04")
print(f"USER in the config: {multi.user!r}; id -u in the container: {uid.output.strip()}")
assert multi.user == "app" and uid.ok and int(uid.output.strip()) != 0
assert naive.user in ("", "root", "0"), "the naive image runs as root"

# %% [markdown]
# ## Challenge: the one-RUN image as an ordinary user
#
# The one-RUN image is small but runs as root. Starting from its Dockerfile
# (`(HERE / "one-run" / "Dockerfile").read_text()`), make it run as a user
# that is not root, with the same output. The check builds it from the app's
# folder (about a minute) and runs `id -u` and the app in it.

# %%
activities.challenge("04-non-root")

# %%
AS_USER = None  # AS_USER = (HERE / "one-run" / "Dockerfile").read_text() + ...

# %%
import layerlab

layerlab.check("04-non-root", AS_USER, context=APP, expected_output=out.output)

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
tested = make("multi-stage", target="test")
test_steps = [s["name"] for s in tested.steps if s["index"] is not None]
runtime_steps = [s["name"] for s in builds["multi-stage"].steps if s["index"] is not None]
pytest_step = next(s for s in tested.ran if "pytest -q" in s["name"])
print("--target test ran:", *[f"  {s['name'][:70]}" for s in tested.ran], sep="\n")
print("pytest said:", pytest_step["log"][-1])
assert any("passed" in line for line in pytest_step["log"])
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
# runs the app, the scripts' paths depend on that home, and the builder's
# `/root` has to be copied with new ownership:

# %%
lesson.show(HERE / "user-copy" / "Dockerfile")

# %%
guess_venv = activities.predict("04", "venv-kb")
guess_venv

# %%
user_build = make("user-copy")
user_img = inspector.inspect(user_build.tag)
user_out = containers.run(user_build.tag, module="04")
venv_bytes = sum(multi.files[p] for p in multi.find("/opt/venv/*"))
local_bytes = sum(user_img.files[p] for p in user_img.find("/home/app/.local/*"))
print(f"venv copy:   {multi.size_bytes / 1e6:.1f} MB image, /opt/venv {venv_bytes / 1e3:.0f} kB")
print(f"--user copy: {user_img.size_bytes / 1e6:.1f} MB image, ~/.local {local_bytes / 1e3:.0f} kB")
assert user_out.ok and user_out.output == out.output
assert abs(user_img.size_bytes - multi.size_bytes) < 0.02 * multi.size_bytes, "same size: same files"

# %%
guess_venv.reveal(venv_bytes / 1e3, note=f"The whole image is {multi.size_bytes / 1e6:.0f} MB: the slim base is nearly all of it.")

# %% [markdown]
# Both copies carry the same few files; the venv's advantage is that it does
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
# ## Key points
#
# - Compilers and headers are needed to *build* a C extension, not to run it.
# - A multi-stage build compiles in a builder stage and copies only the result
#   into a slim runtime stage; the compiler never reaches the final image.
# - A virtual environment makes the result one folder, easy to copy; copy
#   between stages that have the same Python.
# - Run as a non-root `USER` in the final stage; build a `test` stage with `--target`.
#
# ## Exercise `04-multistage`
#
# `exercises/04-multistage/` holds a single-stage Dockerfile that ships a
# compiler. Turn it into a multi-stage build, then grade it:
# `layerlab grade exercises/04-multistage`. The final image must have no
# compiler and no pip cache, run as a non-root user, be at most 1.15 times
# the size of the solution's and print what the solution prints.

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
