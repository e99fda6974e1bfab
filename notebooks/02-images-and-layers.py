# %% [markdown]
# # 02 · Images and layers
#
# > **Instructor note.** This lesson builds eight small images on top of
# > `python:3.13-slim`, and one `apt-get update` image that it rebuilds with
# > `--no-cache` on every run. Cold, the apt and pip downloads dominate; run
# > the notebook once before class (`layerlab warm 02`) and the builds come
# > from the build cache. Nothing here needs arm64
# > or a GPU. `layerlab clean` removes the images afterwards.
# > Recorded by `layerlab warm --record` on 2026-12-02, docker 26.1.5+dfsg1 (containerd image store) on Debian GNU/Linux 12 (bookworm), linux/amd64, 2 CPU (AMD EPYC), 25 GB memory, load average 3.2: first run 192 s (cold: none of its images existed), warm run 22 s.

# %%
from layerlab.course.lesson import Lesson

lesson = Lesson("02")
lesson.require()
lesson.objectives()

# %% [markdown]
# An image is not one file. It is a stack of read-only **layers**, one per
# instruction that changes the filesystem, plus a small JSON config (user,
# command, environment). In this lesson we build images one instruction at a
# time and read what each layer holds, with `layerlab.measure.inspector`, which looks
# inside the image the way `docker save` exports it.

# %%
from layerlab.course import plots, widgets
from layerlab.measure import inspector

base = inspector.inspect(lesson.base("python-slim"))
print(base.table())

# %% [markdown]
# The base image already has layers of its own: the Debian root filesystem and
# the Python installation. Every image we build on it *starts* with exactly
# those layers.
#
# ## One instruction, one layer
#
# Here is a tiny "model server": a dependency installed with pip, then our code.

# %%
lesson.show("steps")

# %%
steps = lesson.image("steps")
print(steps.table())

# %% [markdown]
# (`ARG PYTHON_SLIM` names the base once, so that the course can build the
# lesson on another base; written by hand it is `FROM python:3.13-slim`.)
# Two new layers: one for `RUN pip install`, one for `COPY`. `CMD` changed the
# config only, so it made no layer. The layers below them are the base image's,
# byte for byte (same digests). One more instruction can add a layer:
# `WORKDIR` creates its folder when it does not exist, and that folder is a
# (tiny) layer; lesson 04 finds one in its images.

# %%
n = len(base.layers)
assert len(steps.layers) == n + 2, "RUN and COPY add a layer each; CMD adds none"
assert [l.digest for l in steps.layers[:n]] == [l.digest for l in base.layers]
assert steps.layers[-1].size_bytes < 1_000, "the COPY layer holds one small file"
print(f"new layers: {[inspector.short_instruction(l.created_by) for l in steps.layers[n:]]}")

# %%
plots.layer_stack(steps);

# %% [markdown]
# ## The append-only trap
#
# ML images often need a compiler for a moment: to build a C extension, say.
# A natural first attempt installs it, uses it, and removes it, one step per
# `RUN`:

# %%
lesson.show("trap")

# %% [markdown]
# and the same work in a single `RUN`:

# %%
lesson.show("one-run")

# %% [markdown]
# **Predict, then measure.** Both images end without `gcc`. Before the next
# cell builds them, guess what the trap image weighs (type a guess in the box
# in JupyterLab; an empty box is fine, the lesson goes on):

# %%
from layerlab.course import activities

guess_trap = activities.predict("02", "trap-added-mb")
guess_trap

# %%
trap, one_run = lesson.images("trap", "one-run")  # built side by side: sizes compared, not times
plots.size_bars([base, trap, one_run], ["base", "three RUNs (trap)", "one RUN"], title="Installing and removing a compiler");

# %%
guess_trap.reveal((trap.size_bytes - base.size_bytes) / 1e6,
                  note=f"The one-RUN image adds {(one_run.size_bytes - base.size_bytes) / 1e6:.1f} MB.")

# %% [markdown]
# Both images end up without `gcc` on their filesystem. But a layer is never
# edited once it is committed: the `purge` in the third `RUN` only *records*
# that the files are gone (as "whiteout" markers). The compiler's bytes still sit in the
# second layer, are still downloaded by every `docker pull` and still take
# disk space. Two ways to put a number on it:
#
# - **hidden bytes**: what the layers ship that the final filesystem does not
#   show (files deleted or overwritten by a later layer), and the saving you
#   can check by building the one-`RUN` variant;
# - **wasted bytes**, as the tool [dive](https://github.com/wagoodman/dive)
#   counts them: paths that appear in more than one layer. dive records a
#   deleted *file* with size 0 and a deleted *directory* with what it held,
#   but a directory whose files arrived in an earlier layer appears there
#   only through its files, so its removal counts once and is not "wasted".
#   layerlab's figure equals dive's (the course's tests run dive on the same
#   images); it is a lower bound on what a single `RUN` saves.

# %%
compiler_layer = trap.layers[n]
saved_by_one_run = trap.size_bytes - one_run.size_bytes
hidden = trap.hidden_bytes - base.hidden_bytes
wasted = trap.wasted_bytes - base.wasted_bytes
print(f"layer that installed the compiler:       {compiler_layer.size_bytes / 1e6:6.1f} MB")
print(f"three RUNs: {trap.size_bytes / 1e6:.1f} MB;  one RUN: {one_run.size_bytes / 1e6:.1f} MB")
print(f"saved by one RUN (measured):              {saved_by_one_run / 1e6:6.1f} MB")
print(f"hidden bytes in the trap, above the base: {hidden / 1e6:6.1f} MB")
print(f"wasted bytes (dive's), above the base:    {wasted / 1e6:6.1f} MB;  one RUN: "
      f"{(one_run.wasted_bytes - base.wasted_bytes) / 1e6:.1f} MB")
print("largest repeated paths in the trap image (dive's list):")
for path, times, size in trap.top_waste[:5]:
    print(f"  {size / 1e6:6.1f} MB  x{times}  {path}")

# %%
TOOLCHAIN = ["/usr/bin/gcc", "/usr/bin/cc", "/usr/bin/as", "/usr/bin/ld"]
left = {label: [t for t in TOOLCHAIN if img.has(t) and not base.has(t)] for label, img in (("trap", trap), ("one RUN", one_run))}
print("toolchain programs left above the base:", left)
assert left == {"trap": [], "one RUN": []}, "both removed the compiler, the assembler and the linker"
assert saved_by_one_run > 0.8 * compiler_layer.size_bytes, "the trap still ships the compiler"
# What is hidden is what one RUN saves: both measure the compiler left in layer two (within 5%).
assert abs(hidden - saved_by_one_run) < 0.05 * saved_by_one_run
# dive's figure is smaller: most of the compiler goes with whole directories.
assert 0 < wasted < hidden
assert one_run.wasted_bytes - base.wasted_bytes < 0.01 * compiler_layer.size_bytes

# %% [markdown]
# Look at the list: the compiler's files are there, and so are apt's package
# lists, fetched by `apt-get update` in the second layer and removed only in
# the fourth. The same rule applies to them.
#
# Step through the trap image's layers: the slider picks a layer, and the table
# shows its instruction and its biggest files. (In a static copy of this page
# you see the summary table instead.)

# %%
widgets.layer_explorer(trap)

# %% [markdown]
# ## apt: recommended packages and package lists
#
# `apt-get install` also installs "recommended" packages unless told not to,
# and `apt-get update` leaves the package lists in `/var/lib/apt/lists`.
# Three ways to install `curl`:

# %%
for name in ("apt-default", "apt-no-recommends", "apt-clean-lists"):
    lesson.show(name)

# %%
apt_default, apt_norec, apt_clean = lesson.images("apt-default", "apt-no-recommends", "apt-clean-lists")
plots.size_bars([apt_default, apt_norec, apt_clean], ["defaults", "--no-install-recommends", "+ rm apt lists"], title="Installing curl with apt");

# %%
lists = apt_norec.find("/var/lib/apt/lists/*")
lists_bytes = sum(apt_norec.files[p] for p in lists)
print(f"recommended packages cost {(apt_default.size_bytes - apt_norec.size_bytes) / 1e6:.1f} MB")
print(f"package lists left behind: {len(lists)} files, {lists_bytes / 1e6:.1f} MB")
assert apt_default.size_bytes > apt_norec.size_bytes > apt_clean.size_bytes
assert lists_bytes > 1e6 and apt_clean.find("/var/lib/apt/lists/*deb*") == []
assert apt_norec.size_bytes - apt_clean.size_bytes >= 0.9 * lists_bytes

# %% [markdown]
# The official Debian-based images ship with an apt configuration that cleans
# the downloaded `.deb` files; the lists are yours to remove, in the same `RUN`.
#
# ### Cached package lists go stale
#
# The build cache reuses a `RUN` whose text and parent layer are unchanged; it
# never asks the mirror whether anything moved. `RUN apt-get update` alone in
# its step is cached on the first build and then serves those same lists for
# months: a later `RUN apt-get install` reads versions the mirror may have
# replaced (old packages, or a 404 once the mirror drops them). Keep `update`
# and `install` in one `RUN`, as above, so a changed install line refreshes
# the lists too; to refresh on purpose, `--no-cache` reruns every step, and
# `--pull` re-checks the base image for a newer one (not shown here: offline,
# there is no registry to ask). A rebuild, then a rebuild with `--no-cache`:

# %%
lesson.show("apt-update-alone")
stale = [lesson.build("apt-update-alone") for _ in range(2)]
fresh = lesson.build("apt-update-fresh", variant="apt-update-alone", cache=False)
for label, r in (("rebuild", stale[1]), ("--no-cache", fresh)):
    print(f"{label:<11} steps run {len(r.ran)}, reused {len(r.reused)}, image {r.image_id[:19]}")
assert len(stale[1].ran) == 0 and stale[1].image_id == stale[0].image_id, "the rebuild reused the old package lists"
assert len(fresh.ran) == 1 and fresh.image_id != stale[1].image_id, "--no-cache fetched the lists again"

# %% [markdown]
# ## pip: the wheel cache
#
# pip keeps the wheels it builds from source under `/root/.cache/pip/wheels`,
# and the files it downloads under `/root/.cache/pip/http*` only where the
# server's HTTP caching headers allow it (the cell below counts both). That is for a
# next install, and inside an image there is no next install. Here sympy is
# built from its source distribution, as happens to any package that has no
# wheel for your platform:

# %%
for name in ("pip-cache", "pip-no-cache"):
    lesson.show(name)

# %%
guess_pip = activities.predict("02", "pip-cache-mb")
guess_pip

# %%
pip_cache, pip_nocache = lesson.images("pip-cache", "pip-no-cache")
plots.size_bars([pip_cache, pip_nocache], ["pip install", "pip install --no-cache-dir"], title="Installing sympy with pip");

# %%
cache_files = pip_cache.find("/root/.cache/pip/*")
cache_bytes = sum(pip_cache.files[p] for p in cache_files)
built_wheels = [p for p in cache_files if "/wheels/" in p and p.endswith(".whl")]
downloads = [p for p in cache_files if p.startswith("/root/.cache/pip/http")]
print(f"pip cache in the image: {len(cache_files)} files, {cache_bytes / 1e6:.1f} MB: "
      f"{len(built_wheels)} wheel(s) pip built ({', '.join(p.rsplit('/', 1)[1] for p in built_wheels)}), "
      f"{len(downloads)} cached download file(s)")
assert any("sympy" in p for p in built_wheels), "pip keeps the wheel it built from source"
assert cache_bytes > 1e6 and pip_nocache.find("/root/.cache/pip/*") == []
assert pip_cache.size_bytes - pip_nocache.size_bytes >= 0.9 * cache_bytes
assert pip_nocache.find("*-packages/sympy/__init__.py"), "sympy itself is installed"

# %%
guess_pip.reveal(cache_bytes / 1e6)

# %% [markdown]
# ## Shared layers: what eight images really cost
#
# Every image in this lesson starts with the same base layers. The engine
# stores a layer once, however many images use it, so the disk they take
# together is far less than the sum of their sizes:

# `inspector.disk_use` is arithmetic on the images' layer digests (each
# distinct layer counted once), not the engine's own accounting; `docker system
# df -v` reports that, including the layers' shared size per image.
#
# %%
guess_stored = activities.predict("02", "stored-share")
guess_stored

# %%
built = [steps, trap, one_run, apt_default, apt_norec, apt_clean, pip_cache, pip_nocache]
use = inspector.disk_use(built)
plots.disk_use_bars(use);
print(f"sum of sizes {use.separate_bytes / 1e6:.0f} MB, stored {use.actual_bytes / 1e6:.0f} MB, shared {use.shared_bytes / 1e6:.0f} MB")

# %%
assert use.actual_bytes < use.separate_bytes
assert use.shared_bytes >= base.size_bytes, "the base layers are stored once"
assert use.separate_bytes - use.actual_bytes >= (len(built) - 1) * base.size_bytes

# %%
guess_stored.reveal(100 * use.actual_bytes / use.separate_bytes)

# %% [markdown]
# The same holds for pulls: a registry sends only the layers a machine does not
# have yet. Keep a common base for your images and put what changes often in
# the last layers (lesson 03 measures why).
#
# ## What a pull costs: compressed bytes
#
# Every size so far is **uncompressed**: the files as they lie on disk once
# unpacked. A registry stores each layer as a compressed (gzip) tar, and the
# image's manifest lists those blobs with their sizes: that **compressed**
# figure is what a registry page shows and what a pull downloads, for the
# layers the machine lacks; the engine then unpacks them to the uncompressed
# size. The inspector reads both from the image. (The classic image store
# keeps layers only unpacked, with no compressed copy: there the inspector
# gzips each layer as `docker push` would and counts those bytes.)

# %%
pulls = {}
for label, img in (("base", base), ("steps", steps), ("trap", trap), ("one RUN", one_run), ("pip cache", pip_cache)):
    pulls[label] = sum(l.compressed_bytes for l in img.layers[n:])
    print(f"{label:<9} {img.size_bytes / 1e6:6.1f} MB unpacked, {img.compressed_bytes / 1e6:5.1f} MB compressed "
          f"({img.compressed_bytes / img.size_bytes:.0%}); pulled where the base is: {pulls[label] / 1e6:5.1f} MB")
assert all(img.compressed_bytes < 0.6 * img.size_bytes for img in (base, steps, trap, one_run, pip_cache)), \
    "programs and Python files compress to well under 60%"
assert pulls["trap"] > 100 * pulls["one RUN"], "every pull downloads the trap's hidden compiler, compressed"

# %% [markdown]
# So a pull costs the compressed size of the layers you lack, the disk the
# uncompressed size; both grow with the same mistakes.
#
# ## Challenge: a lean `git`
#
# Many ML images need `git` (to install a package from a repository, say).
# Write a Dockerfile, `FROM python:3.13-slim`, that installs `git` with apt and
# leaves nothing it does not need:
#
# - no recommended packages (git recommends an ssh client, `less`, `patch`...);
# - no apt package lists in the image;
# - at most 1 MB wasted above the base (no clean-up in a later `RUN`).
#
# Put the Dockerfile's text in `LEAN_GIT` and run the check (it builds the
# image: about a minute). The curl Dockerfiles above are a good start.

# %%
activities.challenge("02-lean-git")

# %%
LEAN_GIT = None  # LEAN_GIT = """FROM python:3.13-slim ... """

# %%
import layerlab

layerlab.check("02-lean-git", LEAN_GIT)

# %%
activities.solution("02-lean-git")

# %%
lesson.key_points()

# %% [markdown]
# ## Exercise `02-slim`
#
# `exercises/02-slim/` holds the Dockerfile of a small Python tool that is far
# bigger than it needs to be. Make it smaller *without* a multi-stage build,
# then grade it: `layerlab grade exercises/02-slim` (or the last cell of the
# exercise's notebook).

# %%
activities.quiz("02")
