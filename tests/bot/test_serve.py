"""`jitbot serve` lifecycle: operational routes without Slack routes (Socket Mode), SIGTERM drains and exits 0."""

from __future__ import annotations

import asyncio

import aiohttp

from bot.serve import start_http
from sandbox.processes import BotProcess
from sandbox.slack_workspace import ENGINEER
from sandbox.stack import Stack
from tests.e2e.flow import request_card


async def test_socket_mode_still_serves_health_readiness_and_metrics(stack: Stack) -> None:
    runner, port = await start_http(stack.runtime, "127.0.0.1", 0, slack_routes=False)
    try:
        async with aiohttp.ClientSession() as session:
            base = f"http://127.0.0.1:{port}"
            async with session.get(f"{base}/healthz") as health:
                assert health.status == 200
            async with session.get(f"{base}/readyz") as ready:
                assert ready.status == 200
                assert (await ready.json())["checks"] == {"redis": True, "slack": True}
            async with session.get(f"{base}/metrics") as metrics:
                assert "jitbot_requests_total" in await metrics.text()
            async with session.post(f"{base}/slack/events", data=b"x") as events:
                assert events.status in (404, 405)
    finally:
        await runner.cleanup()


async def test_sigterm_finishes_work_and_exits_cleanly(stack: Stack) -> None:
    async with BotProcess(stack.env) as bot:
        stack.driver.bot_url = bot.events_url  # type: ignore[union-attr]
        await request_card(stack, ENGINEER, "ssh web-01 1h graceful")
        code = await asyncio.to_thread(bot.terminate)
        assert code == 0, bot.log_tail()
        log = bot.log_text()
        assert "jitbot.stopped" in log
        assert "jitbot.heap_frozen" in log  # start-up objects kept out of full GC passes (bot/serve.py)
