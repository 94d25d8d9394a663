"""What every scenario shares: Redis, the timed emulators, the bot's environment and Slack-shaped requests.

Each ``jitbot serve`` is a real child process (``sandbox.processes.BotProcess``) configured with
``sandbox.stack.bot_environment`` — the same wiring as the tests and the sandbox — on loopback.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from urllib.parse import urlencode

from bench.emulators import TimedArm, TimedSlack, poll
from sandbox.arm_demo import demo_inventory
from sandbox.graph import GraphEmulator
from sandbox.processes import BotProcess
from sandbox.redis_server import RedisServer
from sandbox.slack_payloads import slash_command_form
from sandbox.slack_workspace import ENGINEER, demo_workspace
from sandbox.stack import bot_environment

# The load comes from one user, so the abuse limits are raised rather than the load turning into refusals.
LOAD_LIMITS = {
    "JITBOT_COMMANDS_PER_MINUTE": "1000000",
    "JITBOT_INTERACTIONS_PER_MINUTE": "1000000",
    "JITBOT_MAX_PENDING_PER_USER": "1000000",
}


@dataclass
class World:
    """Redis plus both emulators in this process; bots are started on demand against them."""

    redis: RedisServer = field(default_factory=RedisServer)
    arm: TimedArm = field(default_factory=lambda: TimedArm(demo_inventory()))
    slack: TimedSlack = field(default_factory=lambda: TimedSlack(demo_workspace()))
    secret: str = ""
    graph: GraphEmulator | None = None
    _bots: list[BotProcess] = field(default_factory=list)
    _serial: itertools.count[int] = field(default_factory=itertools.count)

    async def __aenter__(self) -> World:
        self.redis.start()
        await self.arm.start(expire_interval=1.0)
        self.graph = await GraphEmulator(self.arm.inventory.directory, self.arm.tokens).start(
            self.arm.ca_file, self.arm.key_file
        )
        await self.slack.start()
        self.secret = self.slack.workspace.signing_secret or secrets.token_hex(16)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for bot in self._bots:
            bot.close()
        await self.slack.stop()
        if self.graph is not None:
            await self.graph.stop()
        await self.arm.stop()
        self.redis.close()

    def bot_env(self, redis_url: str | None = None, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment of a ``jitbot serve`` child (``SSL_CERT_FILE`` included, see ArmEmulator)."""
        env = bot_environment(self.arm, self.slack, redis_url or self.redis.url, self.secret, self.graph)
        env["SSL_CERT_FILE"] = str(self.arm.ca_file)
        env.update(LOAD_LIMITS)
        env.update(extra or {})
        return env

    async def start_bot(
        self, name: str, redis_url: str | None = None, extra: Mapping[str, str] | None = None
    ) -> BotProcess:
        """Start a fresh ``jitbot serve`` and wait until it answers ``/healthz`` on its PORT and its OPS_PORT."""
        bot = BotProcess(self.bot_env(redis_url, extra), name=name)
        self._bots.append(bot)
        await bot.start()
        if not await poll(lambda: bot.alive, 1.0):
            raise RuntimeError(f"{name} died at start:\n{bot.log_tail()}")
        return bot

    def stop_bot(self, bot: BotProcess) -> None:
        """SIGTERM the bot (it drains) and forget it."""
        bot.terminate()
        bot.close()
        if bot in self._bots:
            self._bots.remove(bot)

    def command_bodies(
        self, count: int, tag: str, *, vm: Callable[[int], str] = lambda _: "web-01", users: Sequence[str] = (ENGINEER,)
    ) -> list[str]:
        """``count`` distinct signed-to-be bodies of ``/jit ssh <vm> 2h <tag>-<n>`` (the n-th from ``users[n % len]``).

        Each has its own response URL on the Slack emulator, so jitbot's reply lands like it would in Slack;
        the reason differs so each is a new request (not a duplicate answered from the dedupe index).
        """
        workspace = self.slack.workspace
        bodies = []
        for index in range(count):
            user_id = users[index % len(users)]
            user = workspace.user(user_id)
            assert user is not None
            conversation = self.slack.state.conversation(self.slack.dm_channel_id(user_id))
            assert conversation is not None
            form = slash_command_form(
                workspace,
                user=user,
                conversation=conversation,
                command="/jit",
                text=f"ssh {vm(index)} 2h {tag}-{next(self._serial)}",
                response_url=self.slack.new_response_url(user=user_id, channel=conversation.id),
                trigger_id=self.slack.new_trigger_id(user_id),
            )
            bodies.append(urlencode(form))
        return bodies
