"""`cgroup_limits`: the program reports the limits the kernel enforces, not the host's."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .base import Context, Failed, NotRun, check, excerpt, lines
from .spec import CheckBase


class LimitRun(BaseModel):
    model_config = ConfigDict(extra="forbid")

    memory: str = Field(pattern=r"^[0-9]+[kmg]$", description="the memory limit, as docker run --memory takes it: 96m")
    cpus: float = Field(gt=0, le=2, description="the CPU limit, as docker run --cpus takes it: 0.5 (at most 2: CI has 2 cores)")


class CgroupLimits(CheckBase):
    check: Literal["cgroup_limits"]
    runs: list[LimitRun] = Field(min_length=1, description="the limits to run the image under, one container each")


# Read in the same container, before the image's own program starts: what the
# kernel enforces (cgroup v2, or v1 on older hosts), whatever the program says.
_CGROUP_PROBE = (
    'if [ -f /sys/fs/cgroup/memory.max ]; then echo "cgroup v2 $(cat /sys/fs/cgroup/memory.max) $(cat /sys/fs/cgroup/cpu.max)"; '
    'else echo "cgroup v1 $(cat /sys/fs/cgroup/memory/memory.limit_in_bytes) '
    '$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us) $(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us)"; fi; '
    'echo ---; exec "$@"'
)


def parse_cgroup_line(line: str) -> tuple[int | None, float | None]:
    """(memory limit in bytes, CPUs) from the probe's first line; None for unlimited."""
    parts = line.split()
    if parts[:2] == ["cgroup", "v2"]:
        mem_max, cpu_quota, cpu_period = parts[2], parts[3], parts[4]
        return (None if mem_max == "max" else int(mem_max)), (None if cpu_quota == "max" else int(cpu_quota) / int(cpu_period))
    mem, quota, period = int(parts[2]), int(parts[3]), int(parts[4])
    return (None if mem >= 2**60 else mem), (None if quota < 0 else quota / period)


def expected_limit_lines(memory: int | None, cpus: float | None) -> dict[str, str]:
    return {
        "memory limit": f"{memory // 2**20} MiB" if memory is not None else "unlimited",
        "cpu limit": f"{cpus:g} CPUs" if cpus is not None else "unlimited",
        "workers": str(max(1, int(cpus))) if cpus is not None else "",
    }


@check(CgroupLimits)
def cgroup_limits(ctx: Context, spec: CgroupLimits) -> str:
    s = ctx.need_subject()
    s.build()
    program = (s.image.entrypoint or []) + (s.image.cmd or [])
    if not program:
        raise Failed("the image has no ENTRYPOINT or CMD", "end the Dockerfile with CMD [\"python\", \"limits.py\"]")
    seen = []
    for run in spec.runs:
        ran = s.session.run(s.tag, ["-c", _CGROUP_PROBE, "sh", *program], entrypoint="sh", memory=run.memory, cpus=run.cpus,
                            timeout=ctx.exercise.limits.run_timeout_s)
        if ran.error:
            raise Failed(f"the container did not start: {ran.error}", ran.hint or "the image needs a shell (sh) and its CMD")
        if ran.timed_out or ran.exit_code != 0:
            raise Failed(f"under --memory {run.memory} --cpus {run.cpus:g}: exit code {ran.exit_code}\n{excerpt(ran.output)}",
                         "the program failed or was stopped: read its last lines above")
        head, _, out = ran.output.partition("---")
        try:
            memory, cpus = parse_cgroup_line(head.strip().splitlines()[-1])
        except (IndexError, ValueError):
            raise NotRun(f"could not read the cgroup files in the container: {head.strip()[:200]!r}") from None
        want = expected_limit_lines(memory, cpus)
        got = dict(line.split(":", 1) for line in lines(out) if ":" in line)
        got = {k.strip(): v.strip() for k, v in got.items()}
        wrong = [f"{k}: yours {got.get(k, '(missing)')!r}, from the cgroup {v!r}" for k, v in want.items() if v and got.get(k) != v]
        if wrong:
            raise Failed(
                f"under --memory {run.memory} --cpus {run.cpus:g} the cgroup says {want['memory limit']}, {want['cpu limit']}:\n  "
                + "\n  ".join(wrong),
                "inside a container /proc/meminfo and os.cpu_count() describe the host; read the limits from the cgroup "
                "files under /sys/fs/cgroup (memory.max and cpu.max, or cgroup v1's memory/ and cpu/ folders)",
            )
        seen.append(f"{run.memory}/{run.cpus:g} CPUs -> {want['memory limit']}, {want['cpu limit']}, {want['workers']} worker(s)")
    return "reports the kernel's limits: " + "; ".join(seen)

