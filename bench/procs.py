"""Child processes of the benchmark: the reference apps, the load generator, and /proc readings of any pid.

Why: each server under test runs in its own process so its CPU time, memory and latency are its own; the
load generator runs apart from the emulators for the same reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp

from sandbox.processes import REPO_ROOT
from sandbox.redis_server import free_port


@dataclass(frozen=True)
class ProcessSample:
    """CPU seconds used so far (user + system) and memory of one process, read from /proc."""

    cpu_seconds: float
    rss_bytes: int
    peak_rss_bytes: int


def sample_process(pid: int) -> ProcessSample:
    """Read ``pid``'s CPU time (nanosecond scheduler counters of all its threads), RSS and peak RSS."""
    cpu_ns = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            cpu_ns += int((task / "schedstat").read_text().split()[0])
    memory = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            memory[name] = int(value.split()[0]) * 1024
    return ProcessSample(cpu_ns / 1e9, memory.get("VmRSS", 0), memory.get("VmHWM", 0))


def child_environment(env: Mapping[str, str]) -> dict[str, str]:
    """A clean environment for a child: only locale and paths from ours, plus ``env``."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")}
    keep["PYTHONPATH"] = str(REPO_ROOT)
    keep.update(env)
    return keep


class ServerProcess:
    """A ``python -m <module> ...`` HTTP server child on loopback, ready once ``/healthz`` answers."""

    def __init__(self, name: str, args: Sequence[str], env: Mapping[str, str], *, port: int | None = None):
        self.name = name
        self.port = port or free_port()
        self.args = [a.replace("{port}", str(self.port)) for a in args]
        self.env = child_environment(env)
        self._tmp = tempfile.TemporaryDirectory(prefix=f"jitbot-bench-{name}-")
        self.log_path = Path(self._tmp.name) / "server.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def events_url(self) -> str:
        """Where Slack would post commands."""
        return f"http://127.0.0.1:{self.port}/slack/events"

    @property
    def pid(self) -> int:
        """The child's process id."""
        if self.process is None:
            raise RuntimeError(f"{self.name} is not running")
        return self.process.pid

    async def start(self, startup_seconds: float = 30.0) -> ServerProcess:
        """Spawn the child and wait for ``/healthz``."""
        self.spawn()
        assert self.process is not None
        await wait_healthy(f"http://127.0.0.1:{self.port}/healthz", self.process, startup_seconds, self.log_path)
        return self

    def spawn(self) -> None:
        """Start the child without waiting for it."""
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, *self.args],
                cwd=self._tmp.name,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def close(self) -> None:
        """Stop the child (SIGTERM, then SIGKILL) and delete its directory."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None
        self._tmp.cleanup()


async def wait_healthy(url: str, process: subprocess.Popen[bytes], seconds: float, log_path: Path) -> None:
    """Poll ``url`` until it answers 200; raise with the log tail if the child dies or never answers."""
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{url} exited at start-up:\n{_tail(log_path)}")
            try:
                async with session.get(url, timeout=aiohttp.ClientTimeout(total=1)) as answer:
                    if answer.status == 200:
                        return
            except (aiohttp.ClientError, TimeoutError):
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError(f"{url} did not answer within {seconds} s:\n{_tail(log_path)}")


def _tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else "(no log)"


@dataclass(frozen=True)
class LoadResult:
    """What the load generator measured for one job."""

    latencies: list[float]
    starts: list[float]
    statuses: dict[int, int]
    errors: int
    first_error: str | None
    with_body: int
    first_body: str | None
    elapsed: float
    cpu: float
    realtime: bool = False

    @property
    def sent(self) -> int:
        """Requests that got an answer."""
        return len(self.latencies)

    @property
    def throughput(self) -> float:
        """Answers per second over the job's wall time."""
        return self.sent / self.elapsed if self.elapsed > 0 else 0.0


class LoadGenerator:
    """The ``python -m bench.loadgen`` child: send it a job, get its measurements back."""

    def __init__(self) -> None:
        self._process: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> LoadGenerator:
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.loadgen",
            cwd=str(REPO_ROOT),
            env=child_environment({}),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=1 << 26,
        )
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()

    async def run(
        self,
        url: str,
        secret: str,
        bodies: Sequence[str],
        *,
        concurrency: int = 1,
        gap: float = 0.0,
        realtime: bool = True,
    ) -> LoadResult:
        """Send ``bodies`` to ``url`` and wait for the measurements (at real-time priority unless told not to)."""
        process = self._process
        if process is None or process.stdin is None or process.stdout is None:
            raise RuntimeError("the load generator is not running")
        job: dict[str, Any] = {
            "url": url,
            "secret": secret,
            "bodies": list(bodies),
            "concurrency": concurrency,
            "gap": gap,
            "realtime": realtime,
        }
        process.stdin.write((json.dumps(job) + "\n").encode())
        await process.stdin.drain()
        line = await process.stdout.readline()
        if not line:
            raise RuntimeError("the load generator exited")
        raw = json.loads(line)
        return LoadResult(
            latencies=[float(x) for x in raw["latencies"]],
            starts=[float(x) for x in raw["starts"]],
            statuses={int(k): int(v) for k, v in raw["statuses"].items()},
            errors=int(raw["errors"]),
            first_error=raw.get("first_error"),
            with_body=int(raw["with_body"]),
            first_body=raw.get("first_body"),
            elapsed=float(raw["elapsed"]),
            cpu=float(raw["cpu"]),
            realtime=bool(raw.get("realtime", False)),
        )
