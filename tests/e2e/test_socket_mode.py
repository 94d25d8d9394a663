"""Socket Mode (SLACK_APP_TOKEN set): the same spine over Slack's websocket envelopes, no HTTP events route."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from jit.model import RequestState
from sandbox.redis_server import RedisServer
from sandbox.slack_workspace import APPROVER_1, ENGINEER
from sandbox.stack import Stack, StackOptions
from tests.e2e.flow import dm_to, driver_of, ephemeral_reply, request_card, wait_card_decided


@pytest.fixture
async def socket_stack(redis_server: RedisServer) -> AsyncIterator[Stack]:
    async with Stack(StackOptions(redis_url=redis_server.url, socket_mode=True)) as running:
        yield running


async def test_request_and_approval_over_socket_mode(socket_stack: Stack) -> None:
    stack = socket_stack
    card, request_id = await request_card(stack, ENGINEER, "ssh web-01 1h over the socket")
    await ephemeral_reply(stack, ENGINEER, request_id)

    await driver_of(stack).click(APPROVER_1, card, "jit_approve", request_id)

    await wait_card_decided(stack, card)
    await dm_to(stack, ENGINEER, "is open")
    request = await stack.runtime.store.get(request_id)
    assert request is not None and request.state is RequestState.ACTIVE
    assert [c.operation for c in stack.arm.writes()] == ["jit.initiate"]
    assert [c.method for c in stack.slack.calls if c.method == "apps.connections.open"]
    assert stack.slack.socket_mode.envelopes_sent >= 2


async def test_grammar_errors_come_back_in_the_socket_ack(socket_stack: Stack) -> None:
    response = await driver_of(socket_stack).slash_command(ENGINEER, "ssh")
    assert response.json["response_type"] == "ephemeral"
    assert "which vm" in response.body.lower()


async def test_socket_mode_serves_the_operations_port_but_no_events_route(socket_stack: Stack) -> None:
    assert socket_stack.bot_port == 0, "Socket Mode opens no public port"
    base = f"http://127.0.0.1:{socket_stack.ops_port}"
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{base}/readyz") as ready:
            assert ready.status == 200
        async with session.post(f"{base}/slack/events", data=b"x") as events:
            assert events.status in (404, 405)


async def test_only_the_app_token_opens_a_socket(socket_stack: Stack) -> None:
    async with aiohttp.ClientSession() as session:
        url = f"{socket_stack.slack.api_url}apps.connections.open"
        async with session.post(url, headers={"Authorization": f"Bearer {socket_stack.slack.workspace.token}"}) as r:
            assert (await r.json())["error"] == "invalid_auth"
