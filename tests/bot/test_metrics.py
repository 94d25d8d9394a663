"""`GET /metrics` after real traffic: requests by outcome, approval wait, Azure latency, Slack errors, scheduler."""

from __future__ import annotations

import re
from datetime import timedelta

import aiohttp

from sandbox.slack_workspace import APPROVER_1, ENGINEER
from sandbox.stack import Stack
from tests.e2e.flow import dm_to, driver_of, request_card, wait_card_decided


async def _scrape(stack: Stack) -> str:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{stack.ops_port}/metrics") as response,
    ):
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        return await response.text()


def _value(text: str, pattern: str) -> float:
    match = re.search(rf"^{pattern} ([0-9.e+-]+)$", text, re.MULTILINE)
    assert match, f"{pattern} not in metrics"
    return float(match.group(1))


async def test_metrics_follow_a_request_through_approval(stack: Stack) -> None:
    card, request_id = await request_card(stack, ENGINEER, "ssh web-01 1h metrics")
    stack.slack.faults.add("chat.update", error="internal_error")
    await driver_of(stack).click(APPROVER_1, card, "jit_approve", request_id)
    await wait_card_decided(stack, card)
    await dm_to(stack, ENGINEER, "is open")
    await stack.runtime.schedule.add("remind:overdue-probe", stack.clock.now() - timedelta(minutes=1))

    text = await _scrape(stack)

    assert _value(text, r'jitbot_requests_total\{outcome="requested"\}') == 1
    assert _value(text, r'jitbot_requests_total\{outcome="active"\}') == 1
    assert _value(text, "jitbot_approval_wait_seconds_count") == 1
    assert _value(text, r'jitbot_azure_call_seconds_count\{operation="initiate"\}') == 1
    assert _value(text, r'jitbot_slack_api_errors_total\{error="internal_error",method="chat.update"\}') == 1
    assert _value(text, "jitbot_scheduler_lag_seconds_count") >= 1
    assert _value(text, "jitbot_scheduler_backlog") >= 1
    assert _value(text, "jitbot_scheduler_parked") == 0
    assert _value(text, r'jitbot_commands_total\{command="RequestAccess"\}') == 1
