"""How many threads BLAS starts, how many CPUs the container may use, and a matrix multiply timed.

The CPU limit is the cgroup's quota (cgroup v2 `cpu.max`, v1 `cpu.cfs_quota_us`/`cpu.cfs_period_us`),
which os.cpu_count() does not see: it counts the host's CPUs. Prints one JSON line.
"""

import json
import os
import time

import numpy as np
from threadpoolctl import threadpool_info


def quota() -> float | None:
    try:
        q, period = open("/sys/fs/cgroup/cpu.max").read().split()
        return None if q == "max" else int(q) / int(period)
    except FileNotFoundError:
        pass
    try:
        q = int(open("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").read())
        period = int(open("/sys/fs/cgroup/cpu/cpu.cfs_period_us").read())
        return None if q < 0 else q / period
    except FileNotFoundError:
        return None


def multiply(n: int = 768, repeat: int = 12) -> float:
    a = np.random.default_rng(0).random((n, n), dtype=np.float32)
    a @ a  # warm-up: the thread pool starts here
    start = time.perf_counter()
    for _ in range(repeat):
        a @ a
    return time.perf_counter() - start


blas = [p for p in threadpool_info() if p.get("user_api") == "blas"]
report = {
    "cpu_count": os.cpu_count(),
    "quota": quota(),
    "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
    "blas": blas[0]["internal_api"] if blas else None,
    "threads": blas[0]["num_threads"] if blas else None,
    "seconds": round(multiply(), 3),
}
print(json.dumps(report), flush=True)
