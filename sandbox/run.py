"""``jitbot sandbox``: Redis, the Azure and Slack emulators, the real bot and the web page, on one machine.

Why: before a team asks for a Slack app and an Azure role it wants to see the bot work, and we want the
fastest way to see our own changes. ``start_sandbox`` is also what the browser test starts in-process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import signal
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TextIO

from bot.logs import configure_logging
from jit.redis_connect import connect_redis
from jit.settings import load_environment
from sandbox.redis_server import RedisServer, RedisServerUnavailable
from sandbox.stack import Stack, StackOptions
from sandbox.web.clock import SandboxClock
from sandbox.web.server import SandboxWeb

log = logging.getLogger(__name__)

PASSED_THROUGH = (
    "JITBOT_REMIND_BEFORE",
    "JITBOT_REQUEST_TTL",
    "JITBOT_MAX_DURATION",
    "JITBOT_MAX_PENDING_PER_USER",
    "JITBOT_RULES_FILE",
    "JITBOT_BREAK_GLASS_GROUP",
)
DEMO_RULES = Path(__file__).with_name("demo_rules.yaml")
NO_REDIS = (
    "jitbot sandbox needs Redis, and found none:\n"
    "  - install redis-server (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis)\n"
    "    and run jitbot sandbox again: it starts a private one in a temporary directory, or\n"
    "  - point REDIS_URL at a Redis you already run (redis://host:6379/0)."
)


class SandboxError(RuntimeError):
    """The sandbox cannot start; the message says what to do about it."""


@dataclass
class RedisChoice:
    """Which Redis the sandbox uses, the child process when it started one, and how to describe it."""

    url: str
    server: RedisServer | None
    description: str


async def _reachable(url: str) -> bool:
    try:
        client = connect_redis(url)
    except ValueError:
        return False
    try:
        return bool(await client.ping())
    except Exception:
        return False
    finally:
        await client.aclose()


async def choose_redis(environ: Mapping[str, str]) -> RedisChoice:
    """REDIS_URL when it is set and answers, else a private redis-server, else SandboxError with the fix."""
    url = environ.get("REDIS_URL", "").strip()
    note = ""
    if url:
        if await _reachable(url):
            return RedisChoice(url, None, "REDIS_URL")
        note = " (REDIS_URL did not answer)"
    try:
        server = await asyncio.to_thread(RedisServer(own_session=True).start)
    except RedisServerUnavailable:
        raise SandboxError(NO_REDIS) from None
    return RedisChoice(server.url, server, f"a private redis-server on port {server.port}{note}")


@dataclass
class SandboxOptions:
    """Where to serve the page, which Redis to use (None: decide from the environment) and extra bot settings."""

    host: str = "127.0.0.1"
    port: int = 3000
    redis_url: str | None = None
    environ: Mapping[str, str] | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    fast_forward: bool = True


class Sandbox:
    """Everything ``jitbot sandbox`` runs; ``async with Sandbox(options) as sandbox`` or start()/close()."""

    def __init__(self, options: SandboxOptions | None = None) -> None:
        self.options = options or SandboxOptions()
        self.clock = SandboxClock()
        self.redis: RedisChoice | None = None
        self.stack: Stack | None = None
        self.web: SandboxWeb | None = None
        self._prefix = ""

    @property
    def url(self) -> str:
        """The page's address."""
        if self.web is None:
            raise RuntimeError("the sandbox is not started")
        return self.web.url

    async def start(self) -> Sandbox:
        """Start Redis (or find it), the emulators, the bot and the page; on failure, stop what started."""
        environ = self.options.environ if self.options.environ is not None else load_environment()
        try:
            if self.options.redis_url is not None:
                self.redis = RedisChoice(self.options.redis_url, None, "the given Redis")
            else:
                self.redis = await choose_redis(environ)
            shared = self.redis.server is None
            self._prefix = f"jitbot-sandbox-{secrets.token_hex(4)}" if shared else "jitbot-sandbox"
            env = {"JITBOT_RULES_FILE": str(DEMO_RULES)}
            env.update({k: environ[k] for k in PASSED_THROUGH if environ.get(k, "").strip()})
            env.update(self.options.env)
            self.stack = Stack(
                StackOptions(
                    redis_url=self.redis.url,
                    clock=self.clock if self.options.fast_forward else None,
                    env=env,
                    key_prefix=self._prefix,
                    expire_interval=1.0,
                )
            )
            await self.stack.start()
            self.web = SandboxWeb(self.stack, self.clock if self.options.fast_forward else None)
            await self.web.start(self.options.host, self.options.port)
        except BaseException:
            await self.close()
            raise
        return self

    async def close(self) -> None:
        """Stop the page, the bot and the emulators; remove the sandbox's keys from a shared Redis."""
        if self.web is not None:
            await self.web.stop()
            self.web = None
        if self.stack is not None:
            await self.stack.close()
            self.stack = None
        if self.redis is not None:
            if self.redis.server is not None:
                await asyncio.to_thread(self.redis.server.close)
            elif self._prefix:
                await _forget_keys(self.redis.url, self._prefix)
            self.redis = None

    async def __aenter__(self) -> Sandbox:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


async def _forget_keys(url: str, prefix: str) -> None:
    client = connect_redis(url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*", count=500)]
        if keys:
            await client.delete(*keys)
    except Exception as exc:
        log.warning("sandbox.cleanup_failed", extra={"error": repr(exc)})
    finally:
        await client.aclose()


async def start_sandbox(
    host: str = "127.0.0.1",
    port: int = 3000,
    *,
    redis_url: str | None = None,
    env: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Sandbox:
    """A started Sandbox serving its page on ``host:port`` (0 picks a free port); ``close()`` it when done."""
    options = SandboxOptions(host=host, port=port, redis_url=redis_url, environ=environ, env=dict(env or {}))
    return await Sandbox(options).start()


def banner(sandbox: Sandbox) -> str:
    """What the terminal shows once everything runs."""
    redis = sandbox.redis.description if sandbox.redis else "?"
    return (
        f"\njitbot sandbox is running: {sandbox.url}\n"
        "  Open it in a browser: a small Slack workspace and an Azure subscription, both pretend, with the real\n"
        "  jitbot between them. As alice type  /jit ssh web-01 1h fixing deploy , switch to bob and approve,\n"
        "  watch the NSG rule open on the right, then fast-forward the clock to see the reminder and expiry.\n"
        f"  Redis: {redis}.  Ctrl-C stops everything.\n"
    )


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)


async def run_sandbox(host: str = "127.0.0.1", port: int = 3000, *, out: TextIO | None = None) -> int:
    """``jitbot sandbox``: run until Ctrl-C, SIGTERM or the terminal closing (SIGHUP); returns the exit code."""
    stream = out or sys.stdout
    environ = load_environment()
    configure_logging((environ.get("LOG_LEVEL", "").strip() or "WARNING").upper(), [])
    stop = asyncio.Event()
    _stop_on_signals(stop)
    try:
        sandbox = await start_sandbox(host, port, environ=environ)
    except SandboxError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"jitbot sandbox could not listen on {host}:{port}: {exc.strerror or exc}.", file=sys.stderr)
        print(f"Is something else using the port? Try: jitbot sandbox --port {port + 1}", file=sys.stderr)
        return 1
    try:
        print(banner(sandbox), file=stream, flush=True)
        await stop.wait()
        print("Stopping the sandbox…", file=stream, flush=True)
    finally:
        await sandbox.close()
    return 0
