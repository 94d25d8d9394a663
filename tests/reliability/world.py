"""The world the reliability tests attack: an AOF Redis, the Slack and Azure emulators in the test process,
and one or more real ``jitbot serve`` child processes that can be killed and restarted.

Time is an ``OffsetFileClock`` shared through a file: the emulators and every bot read it, and a test moves it
forward to make reminders and expiry fall due without waiting minutes.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from types import TracebackType

import aiohttp
import redis.asyncio as aioredis

from jit.file_clock import CLOCK_FILE_VARIABLE, OffsetFileClock
from jit.store.audit import AuditLog
from jit.store.requests import RequestStore
from sandbox.arm import ArmEmulator
from sandbox.arm_demo import demo_inventory
from sandbox.graph import GraphEmulator
from sandbox.processes import BotProcess
from sandbox.redis_server import RedisServer
from sandbox.slack import SlackEmulator
from sandbox.slack_driver import SlackDriver
from sandbox.slack_workspace import demo_workspace
from sandbox.stack import bot_environment

KEY_PREFIX = "jitbot"


class World:
    """Redis + emulators + ``bots`` child processes; ``async with World(bots=2) as world``."""

    def __init__(self, *, bots: int = 1, env: Mapping[str, str] | None = None, appendonly: bool = True):
        self._tmp = tempfile.TemporaryDirectory(prefix="jitbot-world-")
        self.dir = Path(self._tmp.name)
        self.clock = OffsetFileClock(self.dir / "clock")
        self.redis_server = RedisServer(appendonly=appendonly, directory=self.dir / "redis")
        self.arm = ArmEmulator(demo_inventory(self.clock.now()), clock=self.clock)
        self.graph = GraphEmulator(self.arm.inventory.directory, self.arm.tokens)
        self.slack = SlackEmulator(demo_workspace())
        self.signing_secret = self.slack.workspace.signing_secret
        self.extra_env = dict(env or {})
        self.bot_count = bots
        self.bots: list[BotProcess] = []
        self.drivers: list[SlackDriver] = []
        self.session: aiohttp.ClientSession | None = None
        self.redis: aioredis.Redis | None = None
        self.env: dict[str, str] = {}

    async def start(self) -> World:
        """Start Redis, the emulators and the bots (in parallel)."""
        (self.dir / "redis").mkdir()
        self.redis_server.start()
        await self.arm.start(expire_interval=0.2)
        await self.graph.start(self.arm.ca_file, self.arm.key_file)
        await self.slack.start()
        self.env = bot_environment(self.arm, self.slack, self.redis_server.url, self.signing_secret, self.graph)
        self.env[CLOCK_FILE_VARIABLE] = str(self.clock.path)
        self.env.update(self.extra_env)
        self.session = aiohttp.ClientSession()
        self.redis = aioredis.Redis.from_url(self.redis_server.url)
        self.bots = [BotProcess(self.env, name=f"bot{i}") for i in range(self.bot_count)]
        await asyncio.gather(*(bot.start() for bot in self.bots))
        self.drivers = [SlackDriver(bot.events_url, self.signing_secret, self.slack, self.session) for bot in self.bots]
        return self

    @property
    def driver(self) -> SlackDriver:
        """The first bot's driver."""
        return self.drivers[0]

    def store(self) -> RequestStore:
        """A read view of the bots' requests (same Redis, same prefix)."""
        assert self.redis is not None
        return RequestStore(self.redis, self.clock, prefix=KEY_PREFIX)

    def audit(self) -> AuditLog:
        """The bots' audit trail."""
        assert self.redis is not None
        return AuditLog(self.redis, prefix=KEY_PREFIX)

    def advance(self, by: timedelta) -> None:
        """Move time forward for the emulators and every bot."""
        self.clock.advance(by)

    async def get(self, bot: BotProcess, path: str, timeout: float = 5.0) -> tuple[int, str]:
        """GET one of the bot's operational routes (on its OPS_PORT)."""
        assert self.session is not None
        async with self.session.get(bot.ops_url + path, timeout=aiohttp.ClientTimeout(total=timeout)) as response:
            return response.status, await response.text()

    def logs(self) -> str:
        """Every bot's log, for failure messages."""
        return "\n".join(f"--- {bot.name}\n{bot.log_tail(60)}" for bot in self.bots)

    async def close(self) -> None:
        """Stop everything, bots first."""
        for bot in self.bots:
            bot.close()
        for driver in self.drivers:
            await driver.close()
        if self.session is not None:
            await self.session.close()
        if self.redis is not None:
            await self.redis.aclose()
        await self.slack.stop()
        await self.graph.stop()
        await self.arm.stop()
        self.redis_server.close()
        self._tmp.cleanup()

    async def __aenter__(self) -> World:
        try:
            return await self.start()
        except BaseException:
            await self.close()
            raise

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
