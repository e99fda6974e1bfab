# %% [markdown]
# # Exercise 01-limits: limits, seen from inside
#
# A training job that starts as many data-loader workers as `os.cpu_count()`
# says, and sizes its batches from `/proc/meminfo`, is sized for the *host*:
# inside a container both show the whole machine, whatever limits the
# container runs under. The limits live in the container's **cgroup**, under
# `/sys/fs/cgroup` (cgroup v2: `memory.max`, `cpu.max`; the older v1:
# `memory/memory.limit_in_bytes`, `cpu/cpu.cfs_quota_us` and `cpu.cfs_period_us`).
#
# Edit `limits.py` (only it) so that it prints the memory and CPU limits the
# kernel really enforces, and one worker per whole CPU (at least one); with no
# limit, it prints `unlimited` (see the format at the top of `limits.py`). The
# grader runs your image under two sets of limits and once with none, and
# compares what it prints with the cgroup values it reads inside the same
# container.

# %%
from layerlab.engine import build, containers

result = build.build(".", "layerlab-01-limits:mine", module="01", show=None)
print(f"built {result.tag} in {result.seconds:.1f} s")

# %% [markdown]
# Run it with limits: `memory` as Docker writes it (`"128m"`), `cpus` as a
# number of CPUs (`0.5` is half of one). What does it print without your fix?

# %%
# BEGIN SOLUTION
MEMORY, CPUS = "128m", 0.5
# STARTER
# MEMORY, CPUS = "128m", 0.5  # try others, too
# END SOLUTION
limited = containers.run(result.tag, memory=MEMORY, cpus=CPUS, module="01", timeout=60)
print(limited.output)

# %% [markdown]
# And what does the kernel say, read from the same place inside a container?

# %%
raw = containers.run(result.tag, ["sh", "-c", "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.max 2>/dev/null "
                                  "|| cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us"],
                     memory=MEMORY, cpus=CPUS, module="01", timeout=60)
print(raw.output)

# %%
import layerlab

layerlab.grade_exercise("01-limits")
