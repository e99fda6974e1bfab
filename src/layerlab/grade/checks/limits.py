"""`cgroup_limits`: the program reports the limits the kernel enforces, not the host's."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .base import Context, Failed, NotRun, check, excerpt, lines
from .spec import CheckBase


class LimitRun(BaseModel):
    model_config = ConfigDict(extra="forbid")

    memory: str | None = Field(
        default=None,
        pattern=r"^[0-9]+[kmg]$",
        description="the memory limit, as docker run --memory takes it: 96m (none: no limit at all, "
        "not even the sandbox's; the run stays bounded in time and processes)",
    )
    cpus: float | None = Field(
        default=None,
        gt=0,
        le=2,
        description="the CPU limit, as docker run --cpus takes it: 0.5 (at most 2: CI has 2 cores; none: no limit)",
    )

    @property
    def shown(self) -> str:
        parts = ([f"--memory {self.memory}"] if self.memory else []) + ([f"--cpus {self.cpus:g}"] if self.cpus else [])
        return " ".join(parts) or "no limits"


class CgroupLimits(CheckBase):
    check: Literal["cgroup_limits"]
    runs: list[LimitRun] = Field(min_length=1, description="the limits to run the image under, one container each")


# Read in the same container, before the image's own program starts: what the
# kernel enforces (cgroup v2, or v1 on older hosts), whatever the program says.
_CGROUP_PROBE = (
    'if [ -f /sys/fs/cgroup/memory.max ]; then echo "cgroup v2 $(cat /sys/fs/cgroup/memory.max) $(cat /sys/fs/cgroup/cpu.max)"; '
    'else echo "cgroup v1 $(cat /sys/fs/cgroup/memory/memory.limit_in_bytes) '
    '$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us) $(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us)"; fi; '
    # What the host shows through /proc and the CPU count, to tell a host reading from a wrong one.
    'h=0; while read -r k v _; do [ "$k" = MemTotal: ] && h=$v; done < /proc/meminfo; '
    'echo "host $h $(nproc 2>/dev/null || echo 0)"; '
    'echo ---; exec "$@"'
)


def parse_cgroup_line(line: str) -> tuple[int | None, float | None]:
    """(memory limit in bytes, CPUs) from the probe's first line; None for unlimited."""
    parts = line.split()
    if parts[:2] == ["cgroup", "v2"]:
        mem_max, cpu_quota, cpu_period = parts[2], parts[3], parts[4]
        return (None if mem_max == "max" else int(mem_max)), (
            None if cpu_quota == "max" else int(cpu_quota) / int(cpu_period)
        )
    mem, quota, period = int(parts[2]), int(parts[3]), int(parts[4])
    return (None if mem >= 2**60 else mem), (None if quota < 0 else quota / period)


def expected_limit_lines(memory: int | None, cpus: float | None) -> dict[str, str]:
    return {
        "memory limit": f"{memory // 2**20} MiB" if memory is not None else "unlimited",
        "cpu limit": f"{cpus:g} CPUs" if cpus is not None else "unlimited",
        "workers": str(max(1, int(cpus))) if cpus is not None else "",
    }


def _number(text: str | None) -> float | None:
    try:
        return float((text or "").split()[0])
    except (IndexError, ValueError):
        return None


def cause_hint(
    want: dict[str, str], got: dict[str, str], memory: int | None, cpus: float | None, host_kib: int, host_cpus: int
) -> str:
    """The likely cause of a wrong report, from what the program printed against the cgroup and the host."""
    wrong = {k for k, v in want.items() if v and got.get(k) != v}
    mem_mib, got_mem = (memory // 2**20 if memory is not None else None), _number(got.get("memory limit"))
    got_cpus = _number(got.get("cpu limit"))
    host = (host_kib and got_mem is not None and abs(got_mem - host_kib // 1024) <= 1) or (
        host_cpus and got_cpus is not None and cpus is not None and got_cpus == host_cpus != cpus
    )
    if host:
        return (
            "inside a container /proc/meminfo and os.cpu_count() describe the host; read the limits from the cgroup "
            "files under /sys/fs/cgroup (memory.max and cpu.max, or cgroup v1's memory/ and cpu/ folders)"
        )
    if "memory limit" in wrong and memory is None:
        return (
            "without a memory limit memory.max says `max` (cgroup v1: a huge number near 2**63): print "
            "`memory limit: unlimited` then, do not convert it"
        )
    if "cpu limit" in wrong and cpus is None:
        return (
            "without a CPU limit cpu.max says `max <period>` (cgroup v1: quota -1): print `cpu limit: unlimited` then"
        )
    if "memory limit" in wrong and got_mem is not None and mem_mib:
        ratio = got_mem / mem_mib
        if any(abs(ratio - r) < 0.02 * r for r in (2**20, 1024, 2**20 / 1e6, 1 / 1024)):
            return (
                "the memory limit is in the right place but in other units: memory.max holds bytes, and "
                "1 MiB is 2**20 bytes (1024 * 1024, not 10**6)"
            )
        if got_mem < mem_mib:
            return (
                "the memory printed is below the limit: memory.current (cgroup v1: memory.usage_in_bytes) is what "
                "the container uses now; the limit is memory.max (memory.limit_in_bytes)"
            )
    if "cpu limit" in wrong and got_cpus is not None and cpus:
        if any(abs(got_cpus - x) < 1e-6 for x in (cpus * 100_000, 100_000, cpus * 1e6)):
            return "cpu.max holds two numbers, quota and period in microseconds: the CPUs are quota / period"
        return (
            "the CPUs are cpu.max's quota divided by its period (cgroup v1: cpu.cfs_quota_us / cpu.cfs_period_us); "
            "cpu.stat's usage is time used, not the limit"
        )
    if wrong == {"workers"}:
        return (
            "the limits are right, the workers are not: one worker per whole CPU, at least one "
            "(max(1, int(cpus)): 0.5 CPUs is 1 worker, 1.5 CPUs is 1)"
        )
    return (
        "read the limits from the cgroup files under /sys/fs/cgroup (memory.max and cpu.max, or cgroup v1's "
        "memory/ and cpu/ folders) and print them in the exercise's format"
    )


@check(CgroupLimits)
def cgroup_limits(ctx: Context, spec: CgroupLimits) -> str:
    s = ctx.need_subject()
    s.build()
    program = (s.image.entrypoint or []) + (s.image.cmd or [])
    if not program:
        raise Failed("the image has no ENTRYPOINT or CMD", 'end the Dockerfile with CMD ["python", "limits.py"]')
    seen = []
    for run in spec.runs:
        # No memory limit means none at all (""), not the sandbox's default: the cgroup must say `max`.
        ran = s.session.run(
            s.tag,
            ["-c", _CGROUP_PROBE, "sh", *program],
            entrypoint="sh",
            memory=run.memory or "",
            cpus=run.cpus,
            timeout=ctx.exercise.limits.run_timeout_s,
        )
        if ran.error:
            raise Failed(
                f"the container did not start: {ran.error}", ran.hint or "the image needs a shell (sh) and its CMD"
            )
        if ran.timed_out or ran.exit_code != 0:
            unlimited = run.memory is None or run.cpus is None
            raise Failed(
                f"under {run.shown}: exit code {ran.exit_code}\n{excerpt(ran.output)}",
                "the program failed or was stopped: read its last lines above"
                + (
                    "; without a limit memory.max and cpu.max say `max` (cgroup v1: a huge number, quota -1), "
                    "which the program must print as `unlimited`, not convert"
                    if unlimited
                    else ""
                ),
            )
        head, _, out = ran.output.partition("---")
        probe = head.strip().splitlines()
        try:
            memory, cpus = parse_cgroup_line(next(line for line in probe if line.startswith("cgroup ")))
        except (StopIteration, IndexError, ValueError):
            raise NotRun(f"could not read the cgroup files in the container: {head.strip()[:200]!r}") from None
        host = next((line.split() for line in probe if line.startswith("host ")), [])
        host_kib, host_cpus = (
            (int(host[1]), int(host[2])) if len(host) == 3 and host[1].isdigit() and host[2].isdigit() else (0, 0)
        )
        want = expected_limit_lines(memory, cpus)
        got = dict(line.split(":", 1) for line in lines(out) if ":" in line)
        got = {k.strip(): v.strip() for k, v in got.items()}
        wrong = [
            f"{k}: yours {got.get(k, '(missing)')!r}, from the cgroup {v!r}"
            for k, v in want.items()
            if v and got.get(k) != v
        ]
        if wrong:
            raise Failed(
                f"under {run.shown} the cgroup says {want['memory limit']}, {want['cpu limit']}:\n  "
                + "\n  ".join(wrong),
                cause_hint(want, got, memory, cpus, host_kib, host_cpus),
            )
        seen.append(
            f"{run.shown} -> {want['memory limit']}, {want['cpu limit']}"
            + (f", {want['workers']} worker(s)" if want["workers"] else "")
        )
    return "reports the kernel's limits: " + "; ".join(seen)
