# %% [markdown]
# # Exercise 10-prod: an image for production
#
# `score.py` scores customers with the churn model's weights, `model.npy`
# (16 MiB here; a real model's are gigabytes). The `Dockerfile` beside this
# notebook bakes the weights into the image, stamps the build time into a
# file, and lets BLAS start a thread per host CPU whatever the container's CPU
# limit. Change `Dockerfile`, `.dockerignore` and `score.py` so that:
#
# - the weights are **not in the image**: the deployment mounts them
#   read-only at `/weights/model.npy`, and without them the program exits
#   with an error (not 0) whose message names that path, not a traceback;
# - the build **reproduces**: built twice without the cache, with the
#   build argument `SOURCE_DATE_EPOCH` and the exporter's
#   `rewrite-timestamp=true`, as CI would, it gives one digest;
# - BLAS runs **as many threads as the container's CPU quota allows** (whole
#   CPUs, at least one): under `docker run --cpus=1` it prints
#   `blas threads: 1`, and under `--cpus=2` two (read the quota from the
#   cgroup, as exercise 01 did);
# - the data loader in `compose.yaml` (the given `loader.py`: 4 workers,
#   each keeping 2 batches of 16 MiB ready in shared memory) **has the
#   /dev/shm it needs**: sized with `shm_size:` (or a sized tmpfs on
#   /dev/shm), not shared from the host, and not more than four times what
#   it holds;
# - the scores stay what they are now.
#
# The grader mounts the weights it generates (the same seed and shape as
# below), runs your image with and without them and under `--cpus=1` and
# `--cpus=2`, builds it twice more to compare digests, and runs its own copy
# of `loader.py` under the /dev/shm that compose reads from your file.

# %%
import tempfile
from pathlib import Path

from layerlab.engine import build, compose, containers
from layerlab.engine.hostpath import host_path
from layerlab.measure import weights

sha = weights.generate(Path("model.npy"), 2048, 2048, seed=2026)
print(f"model.npy: sha256 {sha[:16]}…")
result = build.build(".", "layerlab-10-prod:mine", module="10", show=None)
print(f"built {result.tag} in {result.seconds:.1f} s")

# %% [markdown]
# Run it under a CPU limit, with the weights mounted where a deployment puts
# them. (The untouched image reads its own copy and ignores the mount.)

# %%
# host_path: in the devcontainer, the engine's host names this folder otherwise.
mounted = [(host_path("model.npy"), "/weights/model.npy", "ro")]
print(containers.run(result.tag, cpus=1, volumes=mounted, module="10").output)

# %% [markdown]
# Two builds without the cache, as CI builds a release: do the digests match?

# %%
digests = []
with tempfile.TemporaryDirectory(prefix="layerlab-10-prod-") as tmp:  # the archives are only read for their digest
    for n in (1, 2):
        out = {"type": "oci", "dest": f"{tmp}/{n}.tar", "rewrite-timestamp": "true"}
        r = build.build(".", "layerlab-10-prod:repro", module="10", show=None, cache=False, output=out,
                        build_args={"SOURCE_DATE_EPOCH": "1767225600"})
        digests.append(r.digest)
print(digests, "same" if digests[0] == digests[1] else "different")

# %% [markdown]
# The loader as `compose.yaml` runs it: what shared memory does its service get?

# %%
loader = compose.Project("layerlab-10-prod", ["compose.yaml"], module="10").config()["services"]["loader"]
shm = loader.get("shm_size")
# A tmpfs mounted on /dev/shm (`tmpfs: /dev/shm:size=...`) replaces Docker's own, as compose would run it.
tmpfs = [t for t in loader.get("tmpfs") or [] if t.split(":")[0].rstrip("/") == "/dev/shm"]
print(f"shm_size: {int(shm) / 2**20:.0f} MiB" if shm else f"tmpfs: {tmpfs[0]}" if tmpfs else
      "no shm_size: Docker's default /dev/shm, 64 MB")
print(containers.run(result.tag, loader["command"], shm_size=shm, tmpfs=tmpfs, module="10").output)

# %%
import layerlab

layerlab.grade_exercise("10-prod")
