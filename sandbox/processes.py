"""``jitbot serve`` as a real child process, pointed at the emulators: killable with SIGKILL, restartable.

Why: the reliability tests must prove what happens when the bot dies mid-flight (``kill -9``) or when two
replicas race, which an in-process bot cannot show honestly. The emulators and Redis stay in the test
process; each bot gets its own environment (``SSL_CERT_FILE`` must be set before aiohttp is imported, so it
goes in the child's environment), its own two ports (``PORT`` for Slack, ``OPS_PORT`` for the operations
endpoints) and a log file to read when something goes wrong.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

import aiohttp

from sandbox.redis_server import free_port

REPO_ROOT = Path(__file__).resolve().parent.parent


class BotProcessError(RuntimeError):
    """The bot did not come up (its log tail is in the message)."""


class BotProcess:
    """One ``python -m bot.cli serve`` child on loopback; ``start``/``kill``/``restart`` as a test needs."""

    def __init__(
        self, env: Mapping[str, str], *, port: int | None = None, ops_port: int | None = None, name: str = "bot"
    ):
        self.env = dict(env)
        self.port = port or free_port()
        self.ops_port = ops_port or free_port()
        self.name = name
        self._tmp = tempfile.TemporaryDirectory(prefix=f"jitbot-{name}-")
        self.workdir = Path(self._tmp.name)
        self.log_path = self.workdir / "bot.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.kills = 0
        self.startup_seconds = 30.0

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def ops_url(self) -> str:
        """``http://127.0.0.1:<ops port>``: ``/healthz``, ``/readyz`` and ``/metrics``."""
        return f"http://127.0.0.1:{self.ops_port}"

    @property
    def socket_mode(self) -> bool:
        """The child runs in Socket Mode (an app-level token is set) and opens no public port."""
        return bool(self.env.get("SLACK_APP_TOKEN"))

    @property
    def events_url(self) -> str:
        """Where Slack posts commands and clicks."""
        return f"{self.base_url}/slack/events"

    @property
    def alive(self) -> bool:
        """The child is running (not exited, not killed)."""
        return self.process is not None and self.process.poll() is None

    def _child_environment(self) -> dict[str, str]:
        keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")}
        keep.update(self.env)
        keep.update(
            {"HOST": "127.0.0.1", "PORT": str(self.port), "OPS_PORT": str(self.ops_port), "PYTHONPATH": str(REPO_ROOT)}
        )
        keep.setdefault("LOG_LEVEL", "INFO")
        return keep

    async def start(self) -> BotProcess:
        """Spawn the bot and wait until ``/healthz`` answers on each port it opens (within ``startup_seconds``)."""
        self.spawn()
        await self._wait_healthy()
        return self

    def spawn(self) -> None:
        """Start the child without waiting for it."""
        if self.alive:
            raise BotProcessError(f"{self.name} is already running")
        log = self.log_path.open("ab")
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "serve"],
                cwd=self.workdir,
                env=self._child_environment(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        finally:
            log.close()
        self.starts += 1

    async def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.startup_seconds
        waiting = [f"{self.ops_url}/healthz"] + ([] if self.socket_mode else [f"{self.base_url}/healthz"])
        async with aiohttp.ClientSession() as session:
            while waiting and time.monotonic() < deadline:
                if not self.alive:
                    raise BotProcessError(f"{self.name} exited at start-up:\n{self.log_tail()}")
                try:
                    async with session.get(waiting[0], timeout=aiohttp.ClientTimeout(total=1)) as r:
                        if r.status == 200:
                            waiting.pop(0)
                            continue
                except (aiohttp.ClientError, TimeoutError):
                    pass
                await asyncio.sleep(0.05)
        if waiting:
            raise BotProcessError(
                f"{self.name} did not answer {waiting[0]} within {self.startup_seconds} s:\n{self.log_tail()}"
            )

    def kill(self) -> None:
        """``kill -9``: no shutdown handlers, no lease release, no flush: a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
            self.kills += 1
        self.process = None

    def terminate(self, timeout: float = 15.0) -> int | None:
        """SIGTERM (a deploy): the bot drains and exits; returns its exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        code = self.process.returncode
        self.process = None
        return code

    async def restart(self) -> BotProcess:
        """Kill (if running) and start again on the same ports."""
        self.kill()
        return await self.start()

    def log_tail(self, lines: int = 40) -> str:
        """The last lines the bot wrote (for failure messages)."""
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def log_text(self) -> str:
        """Everything the bot wrote so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def close(self) -> None:
        """Kill the child and delete its working directory."""
        self.kill()
        self._tmp.cleanup()

    async def __aenter__(self) -> BotProcess:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
