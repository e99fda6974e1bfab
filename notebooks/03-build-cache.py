# %% [markdown]
# # 03 · The build cache
#
# > **Instructor note.** This lesson builds one small app (numpy and pandas,
# > about 30 MB of wheels) with six Dockerfiles, cold and then again after small
# > edits: about twelve builds that install the dependencies. The
# > cache-mount section shows how
# > much of a rebuild is the download. Run it once before class so the base
# > image and `uv` are in the cache. The numbers differ from machine to
# > machine; the steps re-run do not. `layerlab clean` removes the images.
# > Recorded by `layerlab warm --record` on 2026-12-02, docker 26.1.5+dfsg1 (containerd image store) on Debian GNU/Linux 12 (bookworm), linux/amd64, 2 CPU (AMD EPYC), 25 GB memory, load average 1.6: first run 172 s (cold: none of its images existed), warm run 107 s.

# %%
from layerlab.course.lesson import Lesson

lesson = Lesson("03")
lesson.require()
lesson.objectives()

# %% [markdown]
# A rebuild does not start from scratch. BuildKit keeps the result of every
# instruction, keyed by the instruction and everything it depends on: the
# layer below it and, for `COPY`, the checksums of the files it copies. When
# nothing in that key changed, the step is `CACHED`; once one step runs again,
# every step after it runs too. Ordering a Dockerfile is therefore about one
# question: which files does each step depend on, and how often do they change?
#
# Each build below ends with one line: the image, its seconds, how many
# steps ran and how many were `CACHED`, and the file that holds BuildKit's
# full log. To read the log itself under a cell, pass `show="log"` to
# `lesson.build`.
#
# The app for the whole lesson scores customers with a small
# logistic-regression model. Its dependencies are pinned in a lock file.

# %%
import random
import shutil
import tempfile
from pathlib import Path

from layerlab.course import plots, widgets
from layerlab.measure import cache, inspector

SCRATCH = Path(tempfile.mkdtemp(prefix="layerlab-03-"))
CLUTTER = {"data/features.bin": 24_000_000, ".venv/lib/libfake.so": 12_000_000, ".git/objects/pack/pack-1.pack": 4_000_000}
DEP_PIN = ("six", "1.16.0")  # the dependency edit: six==1.17.0 becomes six==1.16.0


def workspace(variant, clutter=None):
    return lesson.workspace(variant, scratch=SCRATCH, clutter=clutter)


lesson.show("app", "predict.py")
lesson.show("app", "requirements.lock")

# %% [markdown]
# Each experiment builds from its own fresh copy of this folder (made by
# `workspace` above), so that its edits never touch the lesson's files.
#
# ## Naive and ordered
#
# The first Dockerfile copies the whole project, then installs. The second
# copies the lock file alone, installs, and copies the code last.

# %%
for variant in ("naive", "ordered"):
    lesson.show(variant)

# %% [markdown]
# `lesson.scenarios` builds each one four times: **cold** (`--no-cache`),
# **unchanged** (again, nothing edited), after a **code edit** (a line added
# to `predict.py`) and after a **dependency edit** (`six` pinned to another
# release in `requirements.lock`: one package really changes). It records the
# time and which instructions ran.

# %% [markdown]
# **Predict, then measure.** Before the builds run, guess two of their numbers
# (type them in the boxes in JupyterLab; empty boxes are fine):

# %%
from layerlab.course import activities

guess_naive_steps = activities.predict("03", "naive-code-edit-steps")
guess_naive_steps

# %%
guess_code_share = activities.predict("03", "ordered-code-edit-share")
guess_code_share

# %%
EDITS = dict(code_file="predict.py", dependency_file="requirements.lock", dependency_pin=DEP_PIN)
naive = lesson.scenarios("naive", workspace("naive"), **EDITS)
ordered = lesson.scenarios("ordered", workspace("ordered"), **EDITS)
print(naive.table())
print(ordered.table())

# %%
plots.build_time_bars([naive, ordered], ["naive: copy all, then install", "ordered: lock, install, code"], title="Rebuild time: naive vs ordered Dockerfile");

# %% [markdown]
# Pick a rebuild to see which steps ran for each Dockerfile:

# %%
widgets.build_comparison([naive, ordered], ["naive", "ordered"])

# %%
INSTALL = "uv pip install"


def ran(scenario, text):
    return [r for r in scenario.ran if text in r]


code_share = ordered.get("code edit").seconds / ordered.get("cold").seconds
print(f"ordered, code edit: {ordered.get('code edit').seconds:.1f} s = {code_share:.1%} of its cold build "
      f"({ordered.get('cold').seconds:.1f} s); the course's goal: under 25%")
print(f"naive,   code edit: {naive.get('code edit').seconds:.1f} s = {naive.get('code edit').seconds / naive.get('cold').seconds:.0%} of its cold build")
assert naive.get("unchanged").ran == [] and ordered.get("unchanged").ran == [], "nothing changed, nothing runs"
assert len(ordered.get("code edit").ran) == 1 and ordered.get("code edit").ran[0].startswith("COPY . ."), "one step: the code COPY"
assert ran(naive.get("code edit"), INSTALL), "the naive Dockerfile reinstalls after a code edit"
assert ran(ordered.get("dependency edit"), INSTALL) and ran(naive.get("dependency edit"), INSTALL), "a new lock file must reinstall"
assert code_share < 0.25, "a code edit costs a small fraction of a cold build"

# %%
guess_naive_steps.reveal(len(naive.get("code edit").ran),
                         note="Ran: " + "; ".join(r[:30] for r in naive.get("code edit").ran))
guess_code_share.reveal(100 * code_share)

# %% [markdown]
# A dependency edit costs both Dockerfiles a full install: that is correct,
# the lock changed. A code edit costs the ordered one a single `COPY`. What
# remains of its time is what every build pays whatever it re-runs: reading
# the context, writing out and loading the image. That fixed cost does not
# grow with the dependencies, the install does; the bigger the install, the
# smaller a code edit's share of a cold build.
#
# ## .dockerignore: what the builder is sent
#
# The folder named in `docker build` is the **build context**. BuildKit does
# not receive it up front: when a `COPY` or `ADD` needs files from it, it asks
# the client for them, and on a rebuild from the same folder the client sends
# only what changed since the last transfer. Each build's log says how much
# went over (`transferring context: ...`); `lesson.build` reads that figure.
# So far we built from a clean copy of the app. A real project folder holds
# more: here 24 MB of training data in `data/`, a local `.venv/` and the
# `.git/` history (made by `workspace(..., clutter=CLUTTER)`). The naive
# `COPY . .` asks for all of it, puts it in the image, and makes the install
# depend on it. A `.dockerignore` at the root of the context (or a file named
# `<Dockerfile>.dockerignore` beside a Dockerfile kept elsewhere) leaves it
# out. Its patterns match from the context root: `__pycache__/` alone would
# miss `app/__pycache__`, `**/__pycache__/` matches at any depth. Do not copy
# your `.gitignore` into it: the syntax differs (in `.gitignore` a name
# without a slash matches at any depth, in `.dockerignore` only at the root):

# %%
lesson.show("dockerignore", ".dockerignore")

# %%
guess_context = activities.predict("03", "context-mb")
guess_context

# %%
naive_ws, ignore_ws = workspace("naive", clutter=CLUTTER), workspace("dockerignore", clutter=CLUTTER)
without_ignore, with_ignore = lesson.build("naive-clutter", context=naive_ws), lesson.build("dockerignore", context=ignore_ws)
clutter_bytes = sum(CLUTTER.values())
print(f"context sent, first build without .dockerignore: {without_ignore.context_bytes / 1e6:8.1f} MB")
print(f"context sent, first build with .dockerignore:    {with_ignore.context_bytes / 1e3:8.1f} kB")
assert without_ignore.context_bytes > clutter_bytes
assert with_ignore.context_bytes < 0.01 * without_ignore.context_bytes

# %%
guess_context.reveal(without_ignore.context_bytes / 1e6)

# %% [markdown]
# Now change a file the app never reads, a note in the data folder, and
# rebuild both naive Dockerfiles:

# %%
for ws in (naive_ws, ignore_ws):
    (ws / "data" / "NOTES.md").write_text(f"new data delivered ({random.random()})\n")
bust = lesson.build("naive-clutter", context=naive_ws)
no_bust = lesson.build("dockerignore", context=ignore_ws)
print(f"without .dockerignore: {bust.seconds:5.1f} s, sent {bust.context_bytes} bytes, ran {[s.name[:40] for s in bust.ran]}")
print(f"with .dockerignore:    {no_bust.seconds:5.1f} s, sent {no_bust.context_bytes} bytes, ran {[s.name[:40] for s in no_bust.ran]}")
assert [s for s in bust.ran if INSTALL in s.name], "an irrelevant file re-ran the install"
assert no_bust.ran == [], "with .dockerignore the builder never saw the change"
assert bust.context_bytes < 0.001 * without_ignore.context_bytes, "a rebuild sends only what changed, not the 40 MB again"

# %% [markdown]
# The rebuild sent a few hundred bytes, not the folder again: the transfer is
# incremental. What the clutter still costs on every build is the cache key:
# `COPY . .` checksums every file in the context, so a change to any of them,
# however irrelevant, re-runs the install.

# %% [markdown]
# The ignored files also stay out of the image:

# %%
naive_img, ignore_img = inspector.inspect(bust.tag), inspector.inspect(no_bust.tag)
print(f"naive image {naive_img.size_bytes / 1e6:.0f} MB, with .dockerignore {ignore_img.size_bytes / 1e6:.0f} MB")
assert naive_img.has("/app/data/features.bin") and not ignore_img.find("/app/data/*")
assert naive_img.size_bytes - ignore_img.size_bytes > 0.9 * clutter_bytes

# %% [markdown]
# ## Challenge: your own `.dockerignore`
#
# Without looking at the lesson's file again, write a `.dockerignore` for a
# cluttered copy of the project, built with the **naive** Dockerfile. The
# check builds it (a minute or so: the install runs once) and wants:
#
# - a build context under 100 kB;
# - no `data/`, `.venv/` or `.git/` in the image;
# - the app's code still in the image.
#
# Put the file's text in `IGNORE` and run the check.

# %%
activities.challenge("03-dockerignore")

# %%
IGNORE = None  # IGNORE = """..."""

# %%
import layerlab

layerlab.check("03-dockerignore", IGNORE, workspace=workspace("naive", clutter=CLUTTER))

# %%
activities.solution("03-dockerignore")

# %% [markdown]
# ## Cache mounts: keep the downloads, not in the image
#
# After a dependency edit the install runs again, and without a cache it
# downloads every package again. Keeping the installer's cache *in the image*
# is no answer (lesson 02 measured what it costs). A **cache mount**
# (`RUN --mount=type=cache`) gives the step a folder that BuildKit keeps
# between builds and never writes into a layer.
#
# We use `uv` here rather than pip: pip caches a downloaded wheel only if
# the server's HTTP caching headers allow it (this course's network gateway
# strips them), and keeps only the wheels it builds from source; uv caches
# every download whatever the headers say.

# %%
lesson.show("cache-mount")

# %%
mounted = lesson.scenarios("cache-mount", workspace("cache-mount"), **EDITS)
print(mounted.table())

# %% [markdown]
# Look inside the install step of each dependency-edit rebuild: `uv` says how
# many packages it had to *prepare* (download and unpack) before installing.
# The edit changed one package's version; the install re-runs in full either
# way, and the question is how much of it is downloads.

# %%
plain_step, mount_step = ordered.get("dependency edit").step(INSTALL), mounted.get("dependency edit").step(INSTALL)
plain, mount = cache.uv_install(plain_step.log), cache.uv_install(mount_step.log)
for label, step, said in (("no cache mount", plain_step, plain), ("cache mount", mount_step, mount)):
    print(f"{label:<15} install step {step.seconds:.1f} s: " + "; ".join(said.lines))
lock_packages = cache.pinned_packages(lesson.app / "requirements.lock")
print(f"the lock pins {lock_packages} packages; the edit changed one ({DEP_PIN[0]}); "
      f"prepared without a mount: {plain.prepared}, with it: {mount.prepared}")
assert plain.prepared == lock_packages, "without a mount every package is downloaded again"
assert mount.prepared <= 1, "with the mount only the changed package can need a download"
print(f"preparing (download and unpack): {plain.prepare_seconds:.3f} s without the mount, {mount.prepare_seconds:.3f} s with it")
assert mount.prepare_seconds < plain.prepare_seconds, "what the mount saves: downloading and unpacking the unchanged packages"
assert len(mounted.get("code edit").ran) == 1, "a code edit is as cheap as before"
mount_img = inspector.inspect(mounted.tag)
assert not mount_img.find("/root/.cache/uv/*"), "the cache stays out of the image"
assert not mount_img.find("*/bin/uv"), "and so does uv: its stage is mounted into the install step, never copied"

# %%
dep = {"no cache mount": ordered.get("dependency edit"), "cache mount": mounted.get("dependency edit")}
plots.step_split({k: (v.seconds, v.step(INSTALL).seconds) for k, v in dep.items()}, "the install step",
                 title="Rebuild after a dependency edit: the install step and the rest");
step_speedup = plain_step.seconds / mount_step.seconds
speedup = dep["no cache mount"].seconds / dep["cache mount"].seconds
print(f"install step: {plain_step.seconds:.1f} s -> {mount_step.seconds:.1f} s ({step_speedup:.1f}x); "
      f"whole rebuild: {dep['no cache mount'].seconds:.1f} s -> {dep['cache mount'].seconds:.1f} s ({speedup:.2f}x)")

# %% [markdown]
# The mount saves the download and the unpacking, nothing else: the install
# still runs, and the new layer is still written out and loaded, which the
# figure shows as "the rest of the build". How much the whole rebuild gains
# therefore depends on how the install step compares with the rest, and the
# figure shows that for this run: over a fast link the export of the new
# layer can cost more than the download; on a classroom's shared Wi-Fi, or
# with packages that compile from source, the install step is most of the
# rebuild and the mount saves most of it.
#
# ## The pyproject pitfall
#
# Many projects keep their dependencies in `pyproject.toml`. Installing them
# from it looks like the ordered Dockerfile, but the dependency layer now
# depends on a file that also holds the version, the description, the tool
# settings...

# %%
for variant in ("pyproject", "lock-first"):
    lesson.show(variant)

# %%
pitfall_ws, fix_ws = workspace("pyproject"), workspace("lock-first")
lesson.build("pyproject", context=pitfall_ws), lesson.build("lock-first", context=fix_ws)
cache.bump_version(pitfall_ws / "pyproject.toml"), cache.bump_version(fix_ws / "pyproject.toml")
pitfall, fix = lesson.build("pyproject", context=pitfall_ws), lesson.build("lock-first", context=fix_ws)
for label, r in (("pyproject", pitfall), ("lock first", fix)):
    print(f"{label:>10}: {r.seconds:5.1f} s after a version bump, ran: {[s.name[:45] for s in r.ran]}")

# %%
assert [s for s in pitfall.ran if "-r requirements.lock" in s.name], "a version bump reinstalled every dependency"
assert not [s for s in fix.ran if "-r requirements.lock" in s.name], "the lock-first install stayed cached"
assert [s for s in fix.ran if "--no-deps" in s.name], "only the project itself was reinstalled"

# %%
out = lesson.run(fix.tag)
print(out.output)
assert out.ok and out.output.count("churn risk") == 4

# %%
lesson.key_points()

# %% [markdown]
# ## Exercise `03-cache`
#
# `exercises/03-cache/` holds a Dockerfile that reinstalls everything after
# every edit. Reorder it and add a `.dockerignore`, then grade it:
# `layerlab grade exercises/03-cache`. The grader checks that a code edit
# re-runs at most two steps, that the data folder is not in the context and
# that the app prints what the solution prints.

# %%
print("Figures measured in this run:")
for label, r in (("naive", naive), ("ordered", ordered), ("cache mount", mounted)):
    print(f"  {label:<12}" + "  ".join(f"{s.name} {s.seconds:.1f} s/{len(s.ran)} run" for s in r.scenarios))
print(f"  code edit / cold (ordered): {code_share:.1%}")
print(f"  dependency edit with a cache mount: install step {step_speedup:.1f}x faster, whole rebuild {speedup:.2f}x")
print(f"  context: {without_ignore.context_bytes / 1e6:.1f} MB -> {with_ignore.context_bytes / 1e3:.1f} kB with .dockerignore")
print(f"  pyproject pitfall, version bump: {pitfall.seconds:.1f} s, {len(pitfall.ran)} steps; lock first: {fix.seconds:.1f} s, {len(fix.ran)} steps")
shutil.rmtree(SCRATCH, ignore_errors=True)

# %%
activities.quiz("03")
