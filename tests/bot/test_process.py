"""`jitbot serve` as a real process: Slack and a cheap `/healthz` on PORT, readiness and metrics on OPS_PORT only,
in HTTP mode and in Socket Mode, and SIGTERM drains, closes both ports and exits 0."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.process import serve
from jit.settings import Settings, SettingsError
from sandbox.processes import BotProcess
from sandbox.redis_server import RedisServer
from sandbox.slack_workspace import ENGINEER
from sandbox.stack import Stack, StackOptions
from tests.e2e.flow import request_card

OPERATIONS_ONLY = ("/readyz", "/metrics")


async def status_of(session: aiohttp.ClientSession, url: str, method: str = "GET") -> int:
    async with session.request(method, url, timeout=aiohttp.ClientTimeout(total=10)) as response:
        await response.read()
        return response.status


async def refused(url: str) -> bool:
    """Nothing listens at ``url``: the connection itself fails."""
    async with aiohttp.ClientSession() as session:
        try:
            await status_of(session, url)
        except aiohttp.ClientConnectorError:
            return True
    return False


@pytest.fixture
async def own_redis() -> AsyncIterator[RedisServer]:
    """A redis-server this test may stop without disturbing the rest of the suite."""
    with RedisServer() as server:
        yield server


@pytest.fixture
async def own_stack(own_redis: RedisServer) -> AsyncIterator[Stack]:
    async with Stack(StackOptions(redis_url=own_redis.url, start_scheduler=False)) as running:
        yield running


async def test_http_mode_keeps_readiness_and_metrics_off_the_public_port(stack: Stack) -> None:
    async with BotProcess(stack.env) as bot, aiohttp.ClientSession() as session:
        assert await status_of(session, f"{bot.base_url}/healthz") == 200
        for path in OPERATIONS_ONLY:
            assert await status_of(session, f"{bot.base_url}{path}") == 404, f"{path} must not be on PORT"
        assert await status_of(session, f"{bot.ops_url}/healthz") == 200
        async with session.get(f"{bot.ops_url}/readyz") as ready:
            assert ready.status == 200
            assert (await ready.json())["checks"] == {"redis": True, "slack": True}
        async with session.get(f"{bot.ops_url}/metrics") as metrics:
            assert metrics.headers["Content-Type"].startswith("text/plain")
            assert "jitbot_requests_total" in await metrics.text()
        assert await status_of(session, f"{bot.ops_url}/slack/events", "POST") in (404, 405)


async def test_socket_mode_opens_the_operations_port_only(stack: Stack) -> None:
    env = stack.env | {"SLACK_APP_TOKEN": stack.slack.workspace.app_token}
    del env["SLACK_SIGNING_SECRET"]
    bot = BotProcess(env)
    try:
        await bot.start()
        await stack.slack.wait_for_call("apps.connections.open", timeout=30)
        assert await refused(f"{bot.base_url}/healthz"), "Socket Mode needs no public port"
        async with aiohttp.ClientSession() as session:
            for path in ("/healthz", *OPERATIONS_ONLY):
                assert await status_of(session, f"{bot.ops_url}{path}") == 200, path
        assert await asyncio.to_thread(bot.terminate) == 0, bot.log_tail()
        assert "jitbot.stopped" in bot.log_text()
        assert await refused(f"{bot.ops_url}/healthz"), "the operations port closes on SIGTERM"
    finally:
        bot.close()


async def test_public_healthz_asks_neither_redis_nor_slack(own_stack: Stack, own_redis: RedisServer) -> None:
    async with BotProcess(own_stack.env) as bot, aiohttp.ClientSession() as session:
        assert await status_of(session, f"{bot.ops_url}/readyz") == 200
        auth_tests = len(own_stack.slack.calls_to("auth.test"))
        own_redis.stop()
        for _ in range(3):
            assert await status_of(session, f"{bot.base_url}/healthz") == 200
        assert len(own_stack.slack.calls_to("auth.test")) == auth_tests
        async with session.get(f"{bot.ops_url}/readyz") as ready:
            assert ready.status == 503
            assert (await ready.json())["checks"]["redis"] is False


async def test_sigterm_finishes_work_closes_both_ports_and_exits_cleanly(stack: Stack) -> None:
    async with BotProcess(stack.env) as bot:
        stack.driver.bot_url = bot.events_url  # type: ignore[union-attr]
        await request_card(stack, ENGINEER, "ssh web-01 1h graceful")
        code = await asyncio.to_thread(bot.terminate)
        assert code == 0, bot.log_tail()
        log = bot.log_text()
        assert "jitbot.stopped" in log
        assert "jitbot.heap_frozen" in log  # start-up objects kept out of full GC passes (bot/process.py)
        assert await refused(f"{bot.base_url}/healthz")
        assert await refused(f"{bot.ops_url}/healthz")


async def test_a_port_clash_is_refused_with_a_clear_message(stack: Stack) -> None:
    bot = BotProcess(stack.env)
    bot.ops_port = bot.port
    try:
        bot.spawn()
        assert bot.process is not None
        code = await asyncio.to_thread(bot.process.wait, 60)
        assert code == 2
        assert f"OPS_PORT and PORT are both {bot.port}" in bot.log_text()
    finally:
        bot.close()


async def test_a_port_given_on_the_command_line_may_not_be_the_operations_port() -> None:
    settings = Settings(slack_bot_token="xoxb-x", slack_signing_secret="s", ops_port=9300)
    with pytest.raises(SettingsError, match="--port 9300 is OPS_PORT too"):
        await serve(port=9300, settings=settings)
