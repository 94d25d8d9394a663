"""respond() on the shared session: Bolt's arguments, one connection for many replies, and lazy listeners get it."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.models.blocks import SectionBlock
from slack_sdk.web.async_client import AsyncWebClient

from bot.respond import SessionRespond, install_session_respond
from sandbox.slack import SlackEmulator
from sandbox.slack_payloads import slash_command_form
from sandbox.slack_workspace import ENGINEER


@pytest.fixture
async def slack() -> AsyncIterator[SlackEmulator]:
    async with SlackEmulator() as emulator:
        yield emulator


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as shared:
        yield shared


def _response_url(slack: SlackEmulator) -> str:
    return slack.new_response_url(user=ENGINEER, channel=slack.dm_channel_id(ENGINEER))


async def test_replies_with_bolts_arguments_over_one_connection(
    slack: SlackEmulator, session: aiohttp.ClientSession
) -> None:
    respond = SessionRespond(_response_url(slack), session)

    first = await respond("plain", blocks=[SectionBlock(text="*first*")], response_type="ephemeral")
    second = await respond({"text": "whole", "response_type": "ephemeral"})

    assert (first.status_code, second.status_code) == (200, 200)
    shown = slack.ephemerals_for(ENGINEER)
    assert [m.text for m in shown] == ["plain", "whole"]
    assert shown[0].blocks[0]["text"]["text"] == "*first*"
    connector = session.connector
    assert connector is not None
    assert sum(len(c) for c in connector._conns.values()) == 1


def test_a_deep_copy_is_the_same_responder(session: aiohttp.ClientSession) -> None:
    respond = SessionRespond("http://127.0.0.1:9/response/x", session)

    assert copy.deepcopy({"respond": respond})["respond"] is respond


async def test_lazy_listeners_get_the_shared_respond(slack: SlackEmulator, session: aiohttp.ClientSession) -> None:
    app = AsyncApp(
        client=AsyncWebClient(token=slack.workspace.token, base_url=slack.api_url),
        signing_secret="not-checked",
        request_verification_enabled=False,
        process_before_response=True,
    )
    install_session_respond(app, lambda: session)
    seen: list[AsyncRespond] = []
    done = asyncio.Event()

    async def ack(ack: AsyncAck) -> None:
        await ack()

    async def work(respond: AsyncRespond, body: dict[str, Any]) -> None:
        seen.append(respond)
        await respond(f"done: {body['text']}", response_type="ephemeral")
        done.set()

    app.command("/jit")(ack=ack, lazy=[work])
    user = slack.workspace.user(ENGINEER)
    conversation = slack.state.conversation(slack.dm_channel_id(ENGINEER))
    assert user is not None and conversation is not None
    form = slash_command_form(
        slack.workspace,
        user=user,
        conversation=conversation,
        command="/jit",
        text="status",
        response_url=_response_url(slack),
        trigger_id=slack.new_trigger_id(ENGINEER),
    )

    answer = await app.async_dispatch(AsyncBoltRequest(body=urlencode(form)))
    await asyncio.wait_for(done.wait(), 5)

    assert answer.status == 200
    assert isinstance(seen[0], SessionRespond) and seen[0].session is session
    assert [m.text for m in slack.ephemerals_for(ENGINEER)] == ["done: status"]
