# %% [markdown]
# # 10 · ML images in production: where the weights live, cold starts, digests that reproduce, shared memory and threads
#
# > **Instructor note.** Everything runs against the course's registry on
# > `localhost:5000` (`layerlab registry up`), under repository names that
# > carry a fresh run id, so two runs never meet. The model is 256 MiB of
# > generated weights (a fixed seed: every run makes the same bytes); the
# > slowest cell is the cold start's, which pushes the baked image three
# > times and pulls each push layer by layer; the reproducibility section
# > builds four times without the cache (`layerlab timings` shows each
# > cell's recorded time). `layerlab clean` removes the images, the volume
# > and the registry.
# > Recorded by `layerlab warm --record` on 2026-12-04, docker 26.1.5+dfsg1 (containerd image store) on Debian GNU/Linux 12 (bookworm), linux/amd64, 2 CPU (AMD EPYC), 25 GB memory, load average 1.9: first run 146 s, warm run 154 s.

# %%
from layerlab.course.lesson import Lesson

lesson = Lesson("10")
lesson.require()
lesson.objectives()

# %% [markdown]
# A model in production is an image *and* its weights, started cold on a
# machine that has neither. This lesson measures four things that decide how
# that goes: where the weights live, what a cold start spends its time on,
# whether a rebuild gives the same digest, and whether the process fits the
# container's shared memory and CPUs.

# %%
import shutil
import tempfile
from pathlib import Path

from layerlab.course import activities, plots
from layerlab.engine import artifacts, cicache, registry, volumes
from layerlab.measure import coldstart, inspector, repro, shm, threads
from layerlab.measure import weights as measure_weights

RUN = cicache.new_run_id()  # names this run's repositories and volume
WORK = Path(tempfile.mkdtemp(prefix="layerlab-10-"))
reg = registry.up()
print(reg.line())
assert reg.running

# %% [markdown]
# ## Where the weights live
#
# One model, served three ways by the same `serve.py`: the weights **baked
# into the image** (copied in above the dependencies, or below them),
# **mounted from a volume**, or **pulled by digest** from the registry as an
# OCI artifact when the container starts. The weights are 256 MiB of
# float32, generated from a fixed seed so every run has the same bytes:

# %%
weights = WORK / "model.npy"
sha = measure_weights.generate(weights, 8192, 8192, seed=10)
print(f"{weights.name}: {weights.stat().st_size / 2**20:.0f} MiB, sha256 {sha[:16]}…")
lesson.show("app", "serve.py")

# %%
lesson.show("baked-above")

# %% [markdown]
# The other two Dockerfiles differ in one place each: `baked-below` copies
# the weights before the `pip install`, and `outside` does not copy them at
# all. We build all three and push each to the registry, as a first release.

# %%
VARIANTS = ["baked-above", "baked-below", "outside"]
spaces, first, second, pushed1, pushed2 = {}, {}, {}, {}, {}
for v in VARIANTS:
    spaces[v] = lesson.workspace(v, WORK)
    if v != "outside":
        shutil.copy(weights, spaces[v] / "model.npy")
    first[v] = lesson.build(v, context=spaces[v], label="release 1")
    pushed1[v] = registry.push(first[v].tag, f"10-{v}-{RUN}:v1")
sizes = {v: inspector.inspect(first[v].tag).size_bytes for v in VARIANTS}
for v in VARIANTS:
    print(f"{v:<12} {sizes[v] / 1e6:7.0f} MB; first push sent {pushed1[v].sent.uploaded_bytes / 1e6:6.0f} MB")
assert sizes["baked-above"] - sizes["outside"] >= weights.stat().st_size * 0.99, "the baked images carry the weights"

# %% [markdown]
# The framework (numpy here, torch in most serving images) has a lock and a
# layer of its own, below the app's own pins in `requirements.lock`: it
# changes with the model, seldom, while the app's pins change every few
# commits (lesson 03 ordered layers the same way).
#
# Now the commit a serving image sees most often: one dependency more in
# `requirements.lock` (threadpoolctl, which section 4 uses), with a comment
# that names the change. Every image gets its own comment, so none reuses
# another's `pip install` from the build cache: each stands for a project of
# its own.
#
# **Predict, then measure.** How many MB does the push of `baked-above` send
# after this change?

# %%
guess_pushed = activities.predict("10", "pushed-after-dependency-edit")
guess_pushed

# %%
# The comment names the run and the image: every run makes locks the build cache has not seen, and no
# image reuses another's pip step, as if each were a project of its own.
ADDED = """# run {run}, {image}: threadpoolctl, to read BLAS's thread pool
threadpoolctl==3.6.0 \\
    --hash=sha256:43a0b8fd5a2928500110039e43a5eed8480b918967083ea48dc3ab9f13c4a7fb \\
    --hash=sha256:8ab8b4aa3491d812b623328249fab5302a68d2d71745c8a4c719a2fcaba9f44e
"""
for v in VARIANTS:
    lock = spaces[v] / "requirements.lock"
    lock.write_text(lock.read_text() + ADDED.format(run=RUN, image=v))
    second[v] = lesson.build(v, context=spaces[v], label="dependency edit")
    pushed2[v] = registry.push(second[v].tag, f"10-{v}-{RUN}:v2")
for v in VARIANTS:
    ran = ", ".join(s.name.split(" ")[0] + " " + s.name.split(" ")[1] for s in second[v].ran)
    print(f"{v:<12} rebuilt in {second[v].seconds:5.1f} s, pushed in {pushed2[v].seconds:4.1f} s, "
          f"sent {pushed2[v].sent.uploaded_bytes / 1e6:9.3f} MB; ran: {ran}")

# %%
def reran_weights(build) -> bool:
    return any("model.npy" in s.name for s in build.ran)


sent = {v: pushed2[v].sent.uploaded_bytes for v in VARIANTS}
rebuild = {v: second[v].seconds + pushed2[v].seconds for v in VARIANTS}
guess_pushed.reveal(sent["baked-above"] / 1e6, note=f"the weights are {weights.stat().st_size / 1e6:.0f} MB")
assert reran_weights(second["baked-above"]), "above the dependencies, the weights' COPY runs again"
assert not reran_weights(second["baked-below"]), "below them, it stays cached"
def ran_pip(build, lock: str) -> bool:
    return any(st.name.startswith("RUN pip") and f"-r {lock}" in st.name for st in build.ran)


assert all(ran_pip(second[v], "requirements.lock") for v in VARIANTS), "each ran its own pip for the app's pins"
assert not any(ran_pip(second[v], "framework.lock") for v in VARIANTS), "and none installed the framework again"
assert sent["baked-above"] >= weights.stat().st_size * 0.9, "the weights' copy is a new layer the registry lacks"
assert sent["baked-above"] - sent["outside"] >= weights.stat().st_size * 0.9, "the difference is the weights"
# outside's push must have delivered every layer its first release lacked (the app's pins, the code above
# them), so the ratio below compares two real pushes, not one that skipped its new layers. A layer that is
# byte for byte another image's (the same code, copied with the same times) is mounted from that image's
# repository instead of sent again.
out = pushed2["outside"].sent
new_layers = set(registry.blobs(pushed2["outside"].ref).layers) - set(registry.blobs(pushed1["outside"].ref).layers)
assert new_layers & set(out.uploaded) and new_layers <= set(out.uploaded) | set(out.mounted), "outside pushed its new layers"
assert sent["baked-above"] >= 100 * sent["outside"], "without the weights, the push is the app's pins and code"
print(f"pushed bytes, baked-above / outside: {sent['baked-above'] / sent['outside']:.0f} x; "
      f"rebuild + push time: {rebuild['baked-above'] / rebuild['outside']:.1f} x")

# %% [markdown]
# Below the dependencies the weights stay cached, and the push sends about
# what `outside` sends; but the image still weighs 256 MiB more, and every
# server that pulls it downloads them once. Outside the image, something
# else must deliver them. Two ways:
#
# - a **named volume**, filled once per machine (here with `docker cp`
#   through a container that is created and never started);
# - an **OCI artifact**: the file pushed to the same registry with the ORAS
#   SDK, one manifest and one layer, named by digest. The app fetches it at
#   start (`WEIGHTS_REF=localhost:5000/name@sha256:…`) and checks both digests.

# %%
filled = volumes.fill(f"layerlab-10-weights-{RUN}", [weights], image=second["outside"].tag, module="10")
volume = filled.name
artifact = artifacts.push(weights, f"10-weights-{RUN}:v1")
print(f"volume {volume} holds {', '.join(filled.files)}; artifact {artifact.pinned[:60]}… pushed in {artifact.seconds:.1f} s")
assert filled.files == ["model.npy"] and artifact.digest.startswith("sha256:")

# %%
runs = {
    "baked-above": lesson.run(second["baked-above"].tag),
    "volume": lesson.run(second["outside"].tag, volumes=[(volume, "/weights", "ro")]),
    # The registry listens on the host's port 5000: the host's network reaches it by that name.
    "artifact": lesson.run(second["outside"].tag, envs={"WEIGHTS_REF": artifact.pinned}, network="host"),
    "none": lesson.run(second["outside"].tag),
}
answers = {k: coldstart.marks(r.output) for k, r in runs.items()}
for k, r in runs.items():
    print(f"{k:<12} exit {r.exit_code}: {r.output.strip().splitlines()[-1][:110]}")
outputs = {k: [l for l in r.output.splitlines() if '"answer"' in l] for k, r in runs.items() if k != "none"}
same = {k: o[0].split('"output": ')[1] for k, o in outputs.items()}
assert all(r.ok for k, r in runs.items() if k != "none") and len(set(same.values())) == 1, "one model, three ways, one answer"
assert runs["none"].exit_code == 3 and "no weights at /weights/model.npy" in runs["none"].output, "no weights: a clear failure"

# %%
started = {k: coldstart.container_phases(r) for k, r in runs.items() if k != "none"}
first_answer = {k: sum(p.seconds for p in phases) for k, phases in started.items()}
plots.weights_comparison(
    {
        "image size (MB)": {"baked-above": sizes["baked-above"] / 1e6, "volume": sizes["outside"] / 1e6, "artifact": sizes["outside"] / 1e6},
        "rebuild + push after a dependency edit (s)": {"baked-above": rebuild["baked-above"], "volume": rebuild["outside"], "artifact": rebuild["outside"]},
        "pushed after the edit (MB)": {"baked-above": sent["baked-above"] / 1e6, "volume": sent["outside"] / 1e6, "artifact": sent["outside"] / 1e6},
        "start to first answer, image present (s)": first_answer,
    },
    title="One model, three places for its weights",
);

# %% [markdown]
# What pins the weights? Baked in, the image's digest does. As an artifact,
# the digest in `WEIGHTS_REF` does, and the app refuses bytes that do not
# match it. A volume is pinned by nothing: it holds whatever was last copied
# in, so record the checksum the app prints (`"sha256"` in its `loaded`
# line) with each deployment.
#
# ## Anatomy of a cold start
#
# A new server has nothing: it pulls the image (downloads every layer, then
# decompresses and unpacks it), the engine creates the container, Python
# starts, imports numpy, loads the weights, answers. We push the baked image
# three times, its layers compressed with gzip (the default), zstd, and not
# at all (`compression=…,force-compression=true,oci-mediatypes=true` on the
# image exporter), then pull each as an empty server would: this engine's
# store keeps the layers its build cache holds, so its own `docker pull`
# would download nothing. The measurement reads each layer from the
# registry's API and unpacks it into a scratch folder, timed.

# %%
COMPRESSIONS = ["gzip", "zstd", "uncompressed"]
cold = {}
for c in COMPRESSIONS:
    ref = f"{registry.address()}/10-cold-{RUN}:{c}"
    out = {"type": "image", "name": ref, "push": "true", "compression": c, "force-compression": "true",
           "oci-mediatypes": "true"}
    lesson.build("baked-above", context=spaces["baked-above"], output=out, label=f"push, {c}")
    cold[c] = coldstart.cold_start(c, coldstart.pull(ref), runs["baked-above"])
for c in COMPRESSIONS:
    print(cold[c].line())
plots.waterfall(list(cold.values()), title="Cold start of the baked image, by layer compression");

# %%
big = {c: cold[c].pull.largest for c in COMPRESSIONS}  # the weights' layer
for c in COMPRESSIONS:
    print(f"{c:<12} weights layer: {big[c].bytes / 1e6:5.0f} MB, unpacked in {big[c].unpack_seconds:.2f} s; "
          f"whole image {cold[c].pull_bytes / 1e6:4.0f} MB")
assert cold["uncompressed"].pull_bytes > cold["gzip"].pull_bytes, "compression sends fewer bytes"
assert big["zstd"].unpack_seconds < big["gzip"].unpack_seconds, "zstd decompresses the weights faster than gzip"
assert big["gzip"].bytes > 0.85 * weights.stat().st_size, "dense float32 weights barely compress"

# %% [markdown]
# Dense float32 weights barely compress, whatever the algorithm (zstd at
# its default level may send them as they are): compression pays on code and
# libraries. zstd decompresses faster than gzip, which is what the unpack
# waits for. The unpack here is Python's tarfile writing every file of every
# layer, slower than containerd's; compare the rows, not the absolute times.
# Over a real network the download dominates and depends on the bandwidth;
# here the registry is on the same machine.
#
# **Lazy pulling** (eStargz with the stargz snapshotter, AWS's SOCI) starts
# the container before the layers are all there and fetches files as the
# process opens them. It needs its own snapshotter in the engine; Docker's
# stores unpack every layer first. Which does yours use?

# %%
from layerlab import engine

facts = engine.probe()
if facts.reachable:
    print(f"{facts.label()}: storage driver {facts.storage_driver}")
    assert not any(lazy in (facts.storage_driver or "") for lazy in ("stargz", "soci", "nydus", "overlaybd")), (
        "this engine pulls lazily: the pull phase above is not what its cold start waits for"
    )
else:
    print("no engine answers: the run above was replayed (its engine unpacked every layer before starting)")

# %% [markdown]
# No lazy snapshotter here, so a cold start waits for the whole pull.
#
# ## Digests that reproduce
#
# Build the `outside` image twice from the same files, without the cache, a
# few seconds apart, exporting each to an OCI archive; then compare them
# file by file.

# %%
def build_oci(name: str, *, epoch: str | None = None):
    out = {"type": "oci", "dest": str(WORK / f"{name}.tar")}
    args = {}
    if epoch is not None:
        out["rewrite-timestamp"] = "true"
        args["SOURCE_DATE_EPOCH"] = epoch
    return lesson.build("repro", context=spaces["outside"], cache=False, output=out, build_args=args, label=name)


plain = [build_oci("plain-1"), build_oci("plain-2")]
diff = repro.archives(WORK / "plain-1.tar", WORK / "plain-2.tar")
print(diff.summary())
assert plain[0].digest != plain[1].digest and not diff.identical
assert diff.files("mtime only") and diff.config, "file times and the config's dates differ"

# %% [markdown]
# Same files, different digests: every file the build wrote carries the time
# it was written, the config and history carry build dates, and the `.pyc`
# files pip compiled record their sources' times in their headers. Three
# settings remove all of it: `SOURCE_DATE_EPOCH` (a build argument that sets
# the image's dates, and that the Dockerfile's `ARG SOURCE_DATE_EPOCH` hands
# to `pip`, which then writes hash-checked `.pyc` headers), the exporter's
# `rewrite-timestamp=true` (file times clamped to it), and the hashes in
# the two lock files (the same wheels).

# %%
lesson.show("outside")
EPOCH = "1767225600"  # 2026-01-01 00:00 UTC; CI uses the commit's time: git log -1 --format=%ct
pinned = [build_oci("epoch-1", epoch=EPOCH), build_oci("epoch-2", epoch=EPOCH)]
again = repro.archives(WORK / "epoch-1.tar", WORK / "epoch-2.tar")
print(again.summary())
assert pinned[0].digest == pinned[1].digest and again.identical, "the same source, the same digest"

# %% [markdown]
# ## Shared memory and threads under limits
#
# A data loader hands batches from worker processes to the trainer through
# shared memory, as PyTorch's DataLoader does: each worker keeps a couple of
# batches ready in `/dev/shm`. Docker gives a container 64 MB of it.
#
# **Predict, then measure.** The loader below keeps 4 workers x 2 batches x
# 16 MiB there at once. What is the smallest `--shm-size` that works?

# %%
guess_shm = activities.predict("10", "smallest-shm")
guess_shm

# %%
IMAGE = second["outside"].tag
LOADER = ["python", "loader.py", "4", "2", "16"]
default = shm.read("default", lesson.run(IMAGE, LOADER))
print(default.line())
assert not default.ok and "SIGBUS" in (default.error or ""), "the default /dev/shm is too small: a worker dies"

# %%
smallest, tried = shm.smallest_working(
    range(64, 257, 16), lambda mib: shm.read(f"--shm-size={mib}m", lesson.run(IMAGE, LOADER, shm_size=f"{mib}m"))
)
host_ipc = shm.read("--ipc=host", lesson.run(IMAGE, LOADER, ipc="host"))
for r in tried + [host_ipc]:
    print(r.line())
need = default.needed_bytes / 2**20
guess_shm.reveal(smallest or 0, note=f"the loader holds {need:.0f} MiB of batches at once")
assert smallest is not None and need <= smallest <= need + 32, f"the loader needs {need:.0f} MiB at once"
# --ipc=host hands the container the host's /dev/shm, as big as the host made it (inside another container,
# such as a CI runner's, that can be 64 MB again): it works exactly when that is room enough.
host_shm = (host_ipc.shm_bytes or 0) / 2**20
print(f"--ipc=host: the host's /dev/shm is {host_shm:.0f} MiB")
if host_shm >= smallest:
    assert host_ipc.ok, "a host /dev/shm as big as the smallest working size works"
elif host_shm <= need:
    assert not host_ipc.ok, "a host /dev/shm smaller than the need fails as the default does"

# %% [markdown]
# A worker killed by SIGBUS is the "bus error" learners meet in PyTorch: a
# write to a page of a full tmpfs gets a signal, not an exception. Size it
# with `--shm-size` (Compose: `shm_size:`), or share the host's with
# `--ipc=host`, which is only as big as the host's own /dev/shm (and the
# container then sees the host's other processes' shared memory, so prefer
# a size).
#
# Threads: numpy's BLAS starts one thread per CPU it can see, and a
# container sees all the host's CPUs; `--cpus=1` only limits the time they
# share. The quota is in the cgroup, which `threads.py` reads, as exercise
# 01's program does.

# %%
THREADS = ["python", "threads.py"]
default_threads = threads.read("default", lesson.run(IMAGE, THREADS, cpus=1))
sized = threads.read(f"OMP_NUM_THREADS={default_threads.sized}",
                     lesson.run(IMAGE, THREADS, cpus=1, envs={"OMP_NUM_THREADS": str(default_threads.sized)}))
for r in (default_threads, sized):
    print(f"{r.setting:<18} quota {r.quota} CPU, cpu_count {r.cpu_count}, {r.blas} threads {r.threads}: {r.seconds:.2f} s")
assert default_threads.quota == 1.0 and default_threads.threads == default_threads.cpu_count
assert sized.threads == 1
plots.threads_times([default_threads, sized], title="A matrix multiply under --cpus=1");

# %% [markdown]
# On a machine with many cores, the default pool is many threads fighting
# for one CPU's time; on a two-core machine the difference is small. The
# count is what to fix, from the quota: `OMP_NUM_THREADS` for OpenBLAS and
# PyTorch's intra-op pool, `torch.set_num_threads` in code.
#
# ## Challenge: size /dev/shm for a bigger loader
#
# A loader of 3 workers x 2 batches x 24 MiB. Give the smallest
# `--shm-size` that lets it run, at most 32 MiB above what it needs.

# %%
activities.challenge("10-shm-size")

# %%
SHM = None  # SHM = "...m"

# %%
import layerlab

layerlab.check("10-shm-size", SHM, image=IMAGE)

# %%
activities.solution("10-shm-size")

# %%
lesson.key_points()

# %% [markdown]
# ## Exercise `10-prod`
#
# `exercises/10-prod/` is a scoring service whose image bakes in its
# weights, stamps its build time into a file and lets BLAS start a thread
# per host CPU; its `compose.yaml` runs a data loader on Docker's default
# /dev/shm. Make the deployment supply the weights at run time (and the
# program fail clearly without them), make two clean builds give one
# digest, size BLAS's threads from the container's CPU quota, and give the
# loader the shared memory it holds. Grade it:
# `layerlab grade exercises/10-prod`.

# %%
print("Figures measured in this run:")
print(f"  after a dependency edit: baked-above pushed {sent['baked-above'] / 1e6:.0f} MB in {rebuild['baked-above']:.1f} s "
      f"(rebuild + push), outside {sent['outside'] / 1e3:.0f} kB in {rebuild['outside']:.1f} s")
print("  start to first answer, image present: " + ", ".join(f"{k} {v:.1f} s" for k, v in first_answer.items()))
print("  cold pull bytes: " + ", ".join(f"{c} {cold[c].pull_bytes / 1e6:.0f} MB" for c in COMPRESSIONS))
print(f"  digests: plain {plain[0].digest[:19]} vs {plain[1].digest[:19]}; with SOURCE_DATE_EPOCH both {pinned[0].digest[:19]}")
print(f"  /dev/shm: 64 MB fails, {smallest} MiB works; BLAS threads under --cpus=1: {default_threads.threads} by default")

# %% [markdown]
# Tidy up: the volume, this run's scratch folder (the weights and the OCI
# archives), and the `localhost:5000/...` names the pushes left in the
# engine. The registry keeps what was pushed, the weights several times
# over, until `layerlab clean` (or `layerlab registry down`) removes it.

# %%
volumes.remove(volume)
names = registry.drop_local_names(RUN)
shutil.rmtree(WORK, ignore_errors=True)
print(f"volume {volume} and {names} local names of run {RUN} removed")

# %%
activities.quiz("10")
