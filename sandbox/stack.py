"""The whole system on loopback: Redis, the Azure (ARM and Graph) and Slack emulators, and the real bot wired to them.

Used by the end-to-end tests, ``jitbot sandbox`` and the benchmarks, so all three exercise one wiring.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType

from aiohttp import web
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler

from bot.process import drain_in_flight, start_http, start_ops, start_socket_mode
from bot.runtime import Runtime, open_runtime
from jit.clock import Clock, SystemClock
from jit.settings import Settings
from sandbox.arm import ArmEmulator
from sandbox.arm_demo import demo_inventory
from sandbox.arm_inventory import Inventory
from sandbox.graph import GraphEmulator
from sandbox.redis_server import RedisServer
from sandbox.slack import SlackEmulator
from sandbox.slack_driver import SlackDriver, SocketModeDriver
from sandbox.slack_workspace import (
    ADMIN,
    APPROVAL_CHANNEL,
    APPROVER_GROUP,
    ONCALL_CHANNEL,
    Workspace,
    demo_workspace,
)

DEFAULT_SOURCE = "203.0.113.10/32"


@dataclass
class StackOptions:
    """What to run; every default gives the demo world."""

    inventory: Inventory | None = None
    workspace: Workspace | None = None
    redis_url: str | None = None
    clock: Clock | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    bot_host: str = "127.0.0.1"
    bot_port: int = 0
    ops_port: int = 0
    key_prefix: str | None = None
    start_scheduler: bool = True
    expire_interval: float | None = 1.0
    socket_mode: bool = False


def _free_port(host: str) -> int:
    """A port nothing listens on now, so the bot's public URL (the "from me" page) is known before it starts."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def bot_environment(
    arm: ArmEmulator, slack: SlackEmulator, redis_url: str, signing_secret: str, graph: GraphEmulator | None = None
) -> dict[str, str]:
    """The environment a jitbot process needs to run against these emulators."""
    env = dict(arm.environment())
    if graph is not None:
        env["MICROSOFT_GRAPH_ENDPOINT"] = graph.url
    env.update(
        {
            "SLACK_BOT_TOKEN": slack.workspace.token,
            "SLACK_SIGNING_SECRET": signing_secret,
            "SLACK_API_URL": slack.api_url,
            "REDIS_URL": redis_url,
            "JITBOT_APPROVAL_CHANNEL": APPROVAL_CHANNEL,
            "JITBOT_APPROVERS": APPROVER_GROUP,
            "JITBOT_ONCALL_CHANNEL": ONCALL_CHANNEL,
            "JITBOT_DEFAULT_SOURCE": DEFAULT_SOURCE,
            "JITBOT_ADMINS": ADMIN,
        }
    )
    return env


class Stack:
    """Starts everything in the current event loop; ``async with Stack() as stack``."""

    def __init__(self, options: StackOptions | None = None):
        self.options = options or StackOptions()
        self.clock: Clock = self.options.clock or SystemClock()
        self.redis_server: RedisServer | None = None
        self.arm = ArmEmulator(self.options.inventory or demo_inventory(self.clock.now()), clock=self.clock)
        self.graph = GraphEmulator(self.arm.inventory.directory, self.arm.tokens)
        self.slack = SlackEmulator(self.options.workspace or demo_workspace())
        self.signing_secret = self.slack.workspace.signing_secret or secrets.token_hex(16)
        self.env: dict[str, str] = {}
        self.settings: Settings | None = None
        self._runtime: Runtime | None = None
        self._runner: web.AppRunner | None = None
        self._ops_runner: web.AppRunner | None = None
        self._socket: AsyncSocketModeHandler | None = None
        self._exit = contextlib.AsyncExitStack()
        self._saved_env: dict[str, str | None] = {}
        self.bot_url = ""
        self.bot_port = 0
        self.ops_port = 0
        self.key_prefix = ""
        self.driver: SlackDriver | None = None

    @property
    def runtime(self) -> Runtime:
        """The running bot's runtime."""
        if self._runtime is None:
            raise RuntimeError("the stack is not started")
        return self._runtime

    async def start(self) -> Stack:
        """Start Redis (unless given), both emulators, and the bot; on failure, stop whatever had started."""
        try:
            return await self._start()
        except BaseException:
            await self.close()
            raise

    async def _start(self) -> Stack:
        redis_url = self.options.redis_url
        if redis_url is None:
            self.redis_server = RedisServer().start()
            redis_url = self.redis_server.url
        await self.arm.start(expire_interval=self.options.expire_interval)
        await self.graph.start(self.arm.ca_file, self.arm.key_file)
        await self.slack.start()
        self.env = bot_environment(self.arm, self.slack, redis_url, self.signing_secret, self.graph)
        if self.options.socket_mode:
            self.env["SLACK_APP_TOKEN"] = self.slack.workspace.app_token
        bot_port = self.options.bot_port
        if not self.options.socket_mode:
            bot_port = bot_port or _free_port(self.options.bot_host)
            shown_host = "127.0.0.1" if self.options.bot_host in ("", "0.0.0.0") else self.options.bot_host
            self.env["JITBOT_PUBLIC_URL"] = f"http://{shown_host}:{bot_port}"
        self.env.update(self.options.env)
        self._set_process_identity_env()
        self.settings = Settings.from_env(self.env)
        self.key_prefix = self.options.key_prefix or f"jitbot-{secrets.token_hex(4)}"
        await self._start_bot(bot_port, self.options.ops_port)
        self.driver = (
            SocketModeDriver(self.slack)
            if self.options.socket_mode
            else SlackDriver(self.bot_url, self.signing_secret, self.slack)
        )
        return self

    async def _start_bot(self, port: int, ops_port: int) -> None:
        assert self.settings is not None
        self._exit = contextlib.AsyncExitStack()
        self._runtime = await self._exit.enter_async_context(
            open_runtime(
                self.settings, clock=self.clock, connection_verify=str(self.arm.ca_file), key_prefix=self.key_prefix
            )
        )
        if self.options.start_scheduler:
            await self._runtime.start_background()
        self._ops_runner, self.ops_port = await start_ops(self._runtime, self.options.bot_host, ops_port)
        if self.settings.socket_mode:
            self._socket = await start_socket_mode(self._runtime)
        else:
            self._runner, self.bot_port = await start_http(self._runtime, self.options.bot_host, port)
            self.bot_url = f"http://127.0.0.1:{self.bot_port}/slack/events"

    async def stop_bot(self) -> None:
        """Stop the bot (as a deploy or a crash would), keeping Redis and the emulators running."""
        if self._socket is not None:
            await self._socket.close_async()  # type: ignore[no-untyped-call]
            self._socket = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._runtime is not None:
            await drain_in_flight(self._runtime, seconds=5)
        if self._ops_runner is not None:
            await self._ops_runner.cleanup()
            self._ops_runner = None
        await self._exit.aclose()
        self._runtime = None

    async def restart_bot(self) -> None:
        """Stop the bot and start a fresh one on the same ports, Redis keys and emulators."""
        await self.stop_bot()
        await self._start_bot(self.bot_port, self.ops_port)

    def _set_process_identity_env(self) -> None:
        """azure-identity reads the managed identity endpoint from the process environment."""
        for name in ("IDENTITY_ENDPOINT", "IDENTITY_HEADER"):
            self._saved_env[name] = os.environ.get(name)
            os.environ[name] = self.env[name]

    async def close(self) -> None:
        """Stop everything, in reverse order."""
        if self.driver is not None:
            await self.driver.close()
        await self.stop_bot()
        await self.slack.stop()
        await self.graph.stop()
        await self.arm.stop()
        if self.redis_server is not None:
            self.redis_server.close()
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    async def __aenter__(self) -> Stack:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
