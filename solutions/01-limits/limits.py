"""Print the memory and CPU this process may use, as the kernel enforces them, and the workers to start.

Output (three lines, read by the grader):
    memory limit: 128 MiB        (or: unlimited)
    cpu limit: 0.5 CPUs          (or: unlimited)
    workers: 1
"""

import os
from pathlib import Path

CGROUP = Path("/sys/fs/cgroup")


def memory_limit_bytes():
    """The memory limit in bytes, or None when there is none."""
    # BEGIN SOLUTION
    v2 = CGROUP / "memory.max"  # cgroup v2: one file, "max" when unlimited
    if v2.exists():
        text = v2.read_text().strip()
        return None if text == "max" else int(text)
    v1 = CGROUP / "memory" / "memory.limit_in_bytes"  # cgroup v1: a huge number when unlimited
    if v1.exists():
        value = int(v1.read_text())
        return None if value >= 2**60 else value
    return None
    # STARTER
    # # /proc/meminfo: is this what the container may use?
    # for line in Path("/proc/meminfo").read_text().splitlines():
    #     if line.startswith("MemTotal:"):
    #         return int(line.split()[1]) * 1024
    # return None
    # END SOLUTION


def cpu_limit():
    """The CPU limit in CPUs (0.5 = half a CPU), or None when there is none."""
    # BEGIN SOLUTION
    v2 = CGROUP / "cpu.max"  # cgroup v2: "<quota> <period>", quota "max" when unlimited
    if v2.exists():
        quota, period = v2.read_text().split()
        return None if quota == "max" else int(quota) / int(period)
    quota_file, period_file = CGROUP / "cpu" / "cpu.cfs_quota_us", CGROUP / "cpu" / "cpu.cfs_period_us"
    if quota_file.exists():  # cgroup v1: quota -1 when unlimited
        quota = int(quota_file.read_text())
        return None if quota < 0 else quota / int(period_file.read_text())
    return None
    # STARTER
    # # os.cpu_count(): is this what the container may use?
    # return float(os.cpu_count())
    # END SOLUTION


memory, cpus = memory_limit_bytes(), cpu_limit()
print(f"memory limit: {memory // 2**20} MiB" if memory is not None else "memory limit: unlimited")
print(f"cpu limit: {cpus:g} CPUs" if cpus is not None else "cpu limit: unlimited")
# One worker per whole CPU the job may use, at least one: more only queue up for the same quota.
print(f"workers: {max(1, int(cpus)) if cpus is not None else os.cpu_count()}")
