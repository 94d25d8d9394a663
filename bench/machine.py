"""What the numbers were measured on, and how busy the machine was meanwhile (it may be shared)."""

from __future__ import annotations

import os
import platform
import resource
import subprocess
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

PACKAGES = ("slack-bolt", "slack-sdk", "aiohttp", "redis", "azure-core", "azure-mgmt-security")


@dataclass(frozen=True)
class Machine:
    """CPU, memory, OS, Python, Redis and the versions of the packages on the hot path."""

    cpu: str
    cores: int
    memory_gb: float
    system: str
    python: str
    redis: str
    packages: dict[str, str]

    def lines(self) -> list[str]:
        """One fact per line, for the report."""
        versions = ", ".join(f"{name} {version}" for name, version in self.packages.items())
        return [
            f"CPU: {self.cpu}, {self.cores} logical cores",
            f"Memory: {self.memory_gb:.1f} GB",
            f"OS: {self.system}",
            f"Python: {self.python}",
            f"Redis: {self.redis}",
            f"Packages: {versions}",
        ]


def describe() -> Machine:
    """Read the machine description from /proc, platform and the installed packages."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.partition(":")[2].strip()
                break
    memory = 0.0
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = int(line.split()[1]) / 1024 / 1024
    packages = {}
    for name in PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = "not installed"
    return Machine(
        cpu=cpu,
        cores=os.cpu_count() or 0,
        memory_gb=memory,
        system=f"{platform.system()} {platform.release()}",
        python=platform.python_version(),
        redis=_redis_version(),
        packages=packages,
    )


def _redis_version() -> str:
    try:
        out = subprocess.run(["redis-server", "--version"], capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.stdout.strip().split(" sha=")[0] or "unknown"


def load_average() -> tuple[float, float, float]:
    """The 1, 5 and 15 minute load averages."""
    one, five, fifteen = os.getloadavg()
    return one, five, fifteen


@dataclass(frozen=True)
class CpuTimes:
    """Jiffies the whole machine spent busy and in total, from /proc/stat."""

    busy: int
    total: int


def cpu_times() -> CpuTimes:
    """A snapshot of the machine's CPU counters (zeros where /proc/stat does not exist)."""
    stat = Path("/proc/stat")
    if not stat.exists():
        return CpuTimes(0, 0)
    values = [int(v) for v in stat.read_text().splitlines()[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return CpuTimes(sum(values) - idle, sum(values))


def busy_share(before: CpuTimes, after: CpuTimes) -> float:
    """How busy all cores were between two snapshots (0..1), whoever used them."""
    total = after.total - before.total
    return (after.busy - before.busy) / total if total > 0 else 0.0


def own_cpu_seconds() -> float:
    """CPU seconds used by this process and its finished, waited-for children (bots, apps, Redis, load)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def others_share(before: CpuTimes, after: CpuTimes, own_seconds: float) -> float:
    """The share of all cores (0..1) used by processes other than this run between two snapshots."""
    total = after.total - before.total
    if total <= 0:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    busy_seconds = (after.busy - before.busy) / ticks
    total_seconds = total / ticks
    return max(0.0, busy_seconds - own_seconds) / total_seconds
