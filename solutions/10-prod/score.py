"""Score a batch of customers with the churn model: print how many threads BLAS runs, then the scores."""

# BEGIN SOLUTION: size BLAS's threads from the container's CPU quota, before numpy starts them
import math
import os
import sys


def cpu_quota() -> float | None:
    """The CPUs the cgroup allows (cgroup v2 cpu.max, v1 cfs quota/period); None without a limit."""
    try:
        quota, period = open("/sys/fs/cgroup/cpu.max").read().split()
        return None if quota == "max" else int(quota) / int(period)
    except FileNotFoundError:
        pass
    try:
        quota = int(open("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").read())
        period = int(open("/sys/fs/cgroup/cpu/cpu.cfs_period_us").read())
        return None if quota < 0 else quota / period
    except FileNotFoundError:
        return None


# OpenBLAS sizes its pool once, when numpy is imported, from the CPUs it sees (the host's).
limit = cpu_quota()
if limit is not None:
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, math.floor(limit))))
# END SOLUTION

import numpy as np  # noqa: E402
from threadpoolctl import threadpool_info  # noqa: E402

# BEGIN SOLUTION: read the weights where the deployment mounts them; without them, stop with one clear line
WEIGHTS = "/weights/model.npy"  # mounted read-only by the deployment
if not os.path.isfile(WEIGHTS):
    sys.exit(f"no weights at {WEIGHTS}: mount them there read-only (docker run -v /path/model.npy:{WEIGHTS}:ro)")
# STARTER
# WEIGHTS = "/app/model.npy"
# END SOLUTION


def blas_threads() -> int:
    return sum(p["num_threads"] for p in threadpool_info() if p.get("user_api") == "blas")


w = np.load(WEIGHTS)
customers = np.linspace(-1.0, 1.0, w.shape[0], dtype=np.float32)
scores = customers @ w
print(f"blas threads: {blas_threads()}")
print("scores:", " ".join(f"{v:.3f}" for v in scores[:5]))
