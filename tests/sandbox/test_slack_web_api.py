"""The Slack emulator's Web API, exercised with the real slack_sdk AsyncWebClient over loopback HTTP."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from sandbox.slack import SlackEmulator
from sandbox.slack_state import EventKind, SlackEvent
from sandbox.slack_workspace import (
    ADMIN,
    APPROVAL_CHANNEL,
    APPROVER_1,
    APPROVER_2,
    APPROVER_GROUP,
    BREAK_GLASS_GROUP,
    ENGINEER,
    FORMER_EMPLOYEE,
    GENERAL_CHANNEL,
    ONCALL_CHANNEL,
    ONCALL_GROUP,
    Channel,
    Workspace,
    demo_workspace,
)
from tests.sandbox.conftest import broad_workspace

SECTION = {"type": "section", "text": {"type": "mrkdwn", "text": "*Request* for `vm-1`"}}
BUTTONS = {
    "type": "actions",
    "block_id": "decide",
    "elements": [
        {
            "type": "button",
            "action_id": "jit_approve",
            "text": {"type": "plain_text", "text": "Approve"},
            "value": "r1",
        },
        {"type": "button", "action_id": "jit_deny", "text": {"type": "plain_text", "text": "Deny"}, "value": "r1"},
    ],
}


async def api_error(call: Any) -> SlackApiError:
    with pytest.raises(SlackApiError) as caught:
        await call
    return caught.value


# -- auth ---------------------------------------------------------------------------------------------


async def test_auth_test_names_the_bot_and_lists_scopes_in_a_header(
    slack: SlackEmulator, client: AsyncWebClient
) -> None:
    response = await client.auth_test()
    assert response["user_id"] == slack.workspace.bot.user_id
    assert response["bot_id"] == slack.workspace.bot.bot_id
    assert response["team_id"] == slack.workspace.team_id
    assert response["url"] == "https://jitbot-demo.slack.com/"
    assert set(response.headers["x-oauth-scopes"].split(",")) == set(slack.workspace.scopes)


async def test_wrong_or_missing_token_is_refused(slack: SlackEmulator, session: aiohttp.ClientSession) -> None:
    wrong = AsyncWebClient(token="xoxb-not-the-token", base_url=slack.api_url, session=session)
    assert (await api_error(wrong.auth_test())).response["error"] == "invalid_auth"
    anonymous = AsyncWebClient(base_url=slack.api_url, session=session)
    assert (await api_error(anonymous.auth_test())).response["error"] == "not_authed"
    assert slack.calls[-1].args == {}


async def test_token_and_blocks_may_come_as_form_fields(slack: SlackEmulator, session: aiohttp.ClientSession) -> None:
    form = {
        "token": slack.workspace.token,
        "channel": APPROVAL_CHANNEL,
        "text": "fallback",
        "blocks": json.dumps([SECTION]),
    }
    async with session.post(slack.api_url + "chat.postMessage", data=form) as response:
        body = await response.json()
    assert body["ok"] is True
    call = slack.calls_to("chat.postMessage")[0]
    assert call.args["blocks"][0]["text"]["text"] == "*Request* for `vm-1`"
    assert "token" not in call.args


async def test_unknown_method(client: AsyncWebClient) -> None:
    error = await api_error(client.api_call("chat.teleport"))
    assert error.response["error"] == "unknown_method"


async def test_invalid_json_body(slack: SlackEmulator, session: aiohttp.ClientSession) -> None:
    headers = {"Authorization": f"Bearer {slack.workspace.token}", "Content-Type": "application/json"}
    async with session.post(slack.api_url + "chat.postMessage", data=b"{nope", headers=headers) as response:
        assert (await response.json())["error"] == "invalid_json"


# -- chat ---------------------------------------------------------------------------------------------


async def test_post_message_stores_it_with_generated_block_ids(slack: SlackEmulator, client: AsyncWebClient) -> None:
    response = await client.chat_postMessage(channel=APPROVAL_CHANNEL, text="new request", blocks=[SECTION, BUTTONS])
    assert response["channel"] == APPROVAL_CHANNEL
    [message] = slack.messages_in("#jit-approvals")
    assert message.ts == response["ts"] == response["message"]["ts"]
    assert message.text == "new request"
    assert message.user == slack.workspace.bot.user_id
    assert message.blocks[0]["block_id"]
    assert message.blocks[1]["block_id"] == "decide"
    assert response["message"]["blocks"] == message.blocks
    assert [b.action_id for b in message.buttons()] == ["jit_approve", "jit_deny"]


async def test_post_message_to_a_user_id_opens_the_dm(slack: SlackEmulator, client: AsyncWebClient) -> None:
    response = await client.chat_postMessage(channel=ENGINEER, text="your access is ready")
    assert response["channel"].startswith("D")
    assert [m.text for m in slack.dms_with(ENGINEER)] == ["your access is ready"]
    assert slack.messages_in(ENGINEER) == slack.messages_in(response["channel"]) == slack.dms_with(ENGINEER)
    assert slack.dms_with(APPROVER_1) == []
    assert [c.id for c in slack.conversations_for(ENGINEER)] == [ONCALL_CHANNEL, GENERAL_CHANNEL, response["channel"]]
    assert [c.name for c in slack.conversations_for(APPROVER_1)] == ["jit-approvals", "general"]


async def test_post_message_by_channel_name_and_in_a_thread(slack: SlackEmulator, client: AsyncWebClient) -> None:
    parent = await client.chat_postMessage(channel="#oncall", text="access opened")
    await client.chat_postMessage(channel=ONCALL_CHANNEL, text="reminder", thread_ts=parent["ts"])
    first, reply = slack.messages_in(ONCALL_CHANNEL)
    assert first.thread_ts is None
    assert reply.thread_ts == parent["ts"]
    assert float(reply.ts) > float(first.ts)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"channel": "C0NOSUCHCH", "text": "x"}, "channel_not_found"),
        ({"channel": "U0NOSUCHUS", "text": "x"}, "channel_not_found"),
        ({"channel": FORMER_EMPLOYEE, "text": "x"}, "channel_not_found"),
        ({"channel": GENERAL_CHANNEL, "text": "x"}, "not_in_channel"),
        ({"channel": APPROVAL_CHANNEL}, "no_text"),
        ({"channel": APPROVAL_CHANNEL, "text": "", "blocks": []}, "no_text"),
        ({"channel": APPROVAL_CHANNEL, "text": "x", "blocks": [SECTION] * 51}, "invalid_blocks"),
        ({"channel": APPROVAL_CHANNEL, "text": "x" * 40_001}, "msg_too_long"),
    ],
)
async def test_post_message_errors(
    slack: SlackEmulator, client: AsyncWebClient, kwargs: dict[str, Any], error: str
) -> None:
    # api_call: the SDK's own chat_postMessage warns (an error here) when text is missing
    assert (await api_error(client.api_call("chat.postMessage", json=kwargs))).response["error"] == error
    assert slack.messages_in(APPROVAL_CHANNEL) == []
    assert slack.calls[-1].error == error


async def test_invalid_blocks_explain_what_is_wrong(client: AsyncWebClient) -> None:
    long_button = {
        "type": "actions",
        "elements": [{"type": "button", "action_id": "a", "text": {"type": "plain_text", "text": "x" * 76}}],
    }
    error = await api_error(client.chat_postMessage(channel=APPROVAL_CHANNEL, text="x", blocks=[long_button]))
    assert error.response["error"] == "invalid_blocks"
    [problem] = error.response["response_metadata"]["messages"]
    assert "/blocks/0/elements/0/text/text" in problem


async def test_duplicate_ids_and_unparseable_blocks(slack: SlackEmulator, client: AsyncWebClient) -> None:
    twice = [{**SECTION, "block_id": "same"}, {**SECTION, "block_id": "same"}]
    error = await api_error(client.chat_postMessage(channel=APPROVAL_CHANNEL, text="x", blocks=twice))
    assert "duplicate block_id" in error.response["response_metadata"]["messages"][0]
    error = await api_error(client.api_call("chat.postMessage", data={"channel": APPROVAL_CHANNEL, "blocks": "[{"}))
    assert error.response["error"] == "invalid_blocks_format"


async def test_public_channel_needs_membership_unless_chat_write_public(session: aiohttp.ClientSession) -> None:
    workspace = demo_workspace()
    workspace.scopes.append("chat:write.public")
    workspace.channels.append(Channel("G0SECRET01", "secret", [ADMIN], bot_is_member=False, is_private=True))
    async with SlackEmulator(workspace) as slack:
        client = AsyncWebClient(token=workspace.token, base_url=slack.api_url, session=session)
        await client.chat_postMessage(channel=GENERAL_CHANNEL, text="hello everyone")
        assert [m.text for m in slack.messages_in("general")] == ["hello everyone"]
        error = await api_error(client.chat_postMessage(channel="G0SECRET01", text="x"))
        assert error.response["error"] == "channel_not_found"


async def test_update_keeps_history_and_blocks_unless_replaced(slack: SlackEmulator, client: AsyncWebClient) -> None:
    posted = await client.chat_postMessage(channel=APPROVAL_CHANNEL, text="pending", blocks=[SECTION, BUTTONS])
    updated = await client.chat_update(channel=APPROVAL_CHANNEL, ts=posted["ts"], text="approved by bob")
    message = slack.message(APPROVAL_CHANNEL, posted["ts"])
    assert updated["ts"] == posted["ts"]
    assert updated["message"]["edited"]["user"] == slack.workspace.bot.user_id
    assert message.text == "approved by bob"
    assert len(message.buttons()) == 2, "chat.update without blocks keeps the old blocks, like Slack"
    await client.chat_update(channel=APPROVAL_CHANNEL, ts=posted["ts"], text="approved", blocks=[SECTION])
    assert message.buttons() == []
    await client.chat_update(channel=APPROVAL_CHANNEL, ts=posted["ts"], text="plain", blocks=[])
    assert message.blocks == []
    assert [v.text for v in message.versions] == ["pending", "approved by bob", "approved", "plain"]
    assert [v.via for v in message.versions] == ["chat.postMessage"] + ["chat.update"] * 3


async def test_update_errors(slack: SlackEmulator, client: AsyncWebClient) -> None:
    posted = await client.chat_postMessage(channel=APPROVAL_CHANNEL, text="pending")
    ephemeral = await client.chat_postEphemeral(channel=APPROVAL_CHANNEL, user=APPROVER_1, text="only you")
    cases = [
        ({"channel": APPROVAL_CHANNEL, "ts": "1.000001", "text": "x"}, "message_not_found"),
        ({"channel": ONCALL_CHANNEL, "ts": posted["ts"], "text": "x"}, "message_not_found"),
        ({"channel": APPROVAL_CHANNEL, "ts": ephemeral["message_ts"], "text": "x"}, "message_not_found"),
        ({"channel": "C0NOSUCHCH", "ts": posted["ts"], "text": "x"}, "channel_not_found"),
        ({"channel": APPROVAL_CHANNEL, "ts": posted["ts"]}, "no_text"),
    ]
    for kwargs, error in cases:
        assert (await api_error(client.api_call("chat.update", json=kwargs))).response["error"] == error, kwargs
    assert len(slack.message(APPROVAL_CHANNEL, posted["ts"]).versions) == 1


async def test_post_ephemeral(slack: SlackEmulator, client: AsyncWebClient) -> None:
    response = await client.chat_postEphemeral(channel=APPROVAL_CHANNEL, user=APPROVER_2, text="you cannot approve")
    [shown] = slack.ephemerals_for(APPROVER_2)
    assert shown.ts == response["message_ts"]
    assert shown.is_ephemeral
    assert shown.ephemeral_to == APPROVER_2
    assert slack.ephemerals_for(APPROVER_2, APPROVAL_CHANNEL) == [shown]
    assert slack.ephemerals_for(APPROVER_2, ONCALL_CHANNEL) == []
    assert slack.ephemerals_for(APPROVER_1) == []
    assert slack.messages_in(APPROVAL_CHANNEL) == []


async def test_post_ephemeral_errors(client: AsyncWebClient) -> None:
    cases = [
        ({"channel": APPROVAL_CHANNEL, "user": ENGINEER, "text": "x"}, "user_not_in_channel"),
        ({"channel": APPROVAL_CHANNEL, "user": "U0NOSUCHUS", "text": "x"}, "user_not_found"),
        ({"channel": "C0NOSUCHCH", "user": APPROVER_1, "text": "x"}, "channel_not_found"),
        ({"channel": APPROVAL_CHANNEL, "user": APPROVER_1}, "no_text"),
    ]
    for kwargs, error in cases:
        response = await api_error(client.api_call("chat.postEphemeral", json=kwargs))
        assert response.response["error"] == error, kwargs


async def test_ephemeral_in_the_users_dm(slack: SlackEmulator, client: AsyncWebClient) -> None:
    dm = (await client.conversations_open(users=ENGINEER))["channel"]["id"]
    await client.chat_postEphemeral(channel=dm, user=ENGINEER, text="usage: /jit ssh vm 1h")
    assert [m.text for m in slack.ephemerals_for(ENGINEER, dm)] == ["usage: /jit ssh vm 1h"]


async def test_delete(slack: SlackEmulator, client: AsyncWebClient) -> None:
    posted = await client.chat_postMessage(channel=APPROVAL_CHANNEL, text="oops")
    response = await client.chat_delete(channel=APPROVAL_CHANNEL, ts=posted["ts"])
    assert response["ts"] == posted["ts"]
    assert slack.messages_in(APPROVAL_CHANNEL) == []
    [deleted] = slack.messages_in(APPROVAL_CHANNEL, include_deleted=True)
    assert deleted.deleted
    error = await api_error(client.chat_delete(channel=APPROVAL_CHANNEL, ts=posted["ts"]))
    assert error.response["error"] == "message_not_found"


# -- conversations ------------------------------------------------------------------------------------


async def test_conversations_open(slack: SlackEmulator, client: AsyncWebClient) -> None:
    first = await client.conversations_open(users=ENGINEER)
    again = await client.conversations_open(users=[ENGINEER], return_im=True)
    assert first["channel"]["id"] == again["channel"]["id"] == slack.dm_channel_id(ENGINEER)
    assert first["already_open"] is False
    assert again["already_open"] is True
    assert again["channel"]["is_im"] is True
    assert again["channel"]["user"] == ENGINEER
    for users, error in [
        (FORMER_EMPLOYEE, "user_disabled"),
        ("U0NOSUCHUS", "user_not_found"),
        (slack.workspace.bot.user_id, "cannot_dm_bot"),
    ]:
        assert (await api_error(client.conversations_open(users=users))).response["error"] == error


async def test_conversations_info(slack: SlackEmulator, client: AsyncWebClient) -> None:
    approvals = (await client.conversations_info(channel=APPROVAL_CHANNEL))["channel"]
    assert approvals["name"] == "jit-approvals"
    assert approvals["is_member"] is True
    assert approvals["is_channel"] is True
    assert approvals["is_private"] is False
    general = (await client.conversations_info(channel=GENERAL_CHANNEL))["channel"]
    assert general["is_member"] is False
    dm = slack.dm_channel_id(APPROVER_1)
    assert (await client.conversations_info(channel=dm))["channel"]["user"] == APPROVER_1
    error = await api_error(client.conversations_info(channel="C0NOSUCHCH"))
    assert error.response["error"] == "channel_not_found"


async def test_conversations_members_paginates(slack: SlackEmulator, client: AsyncWebClient) -> None:
    members: list[str] = []
    async for page in await client.conversations_members(channel=APPROVAL_CHANNEL, limit=2):
        members.extend(page["members"])
    assert members == [APPROVER_1, APPROVER_2, ADMIN, slack.workspace.bot.user_id]
    assert len(slack.calls_to("conversations.members")) == 2


# -- users and groups ---------------------------------------------------------------------------------


async def test_users_info(slack: SlackEmulator, client: AsyncWebClient) -> None:
    alice = (await client.users_info(user=ENGINEER))["user"]
    assert alice["name"] == "alice"
    assert alice["real_name"] == "Alice Engineer"
    assert alice["tz"] == "Europe/Berlin"
    assert alice["tz_offset"] in (3600, 7200)
    assert alice["deleted"] is False
    assert alice["is_bot"] is False
    assert alice["profile"]["email"] == "alice@contoso.com"
    frank = (await client.users_info(user=FORMER_EMPLOYEE))["user"]
    assert frank["deleted"] is True
    assert (await api_error(client.users_info(user="U0NOSUCHUS"))).response["error"] == "user_not_found"


async def test_users_info_shows_email_only_with_its_scope(session: aiohttp.ClientSession) -> None:
    workspace = broad_workspace()
    workspace.scopes.remove("users:read.email")
    async with SlackEmulator(workspace) as slack:
        client = AsyncWebClient(token=workspace.token, base_url=slack.api_url, session=session)
        assert "email" not in (await client.users_info(user=ENGINEER))["user"]["profile"]


async def test_usergroups(client: AsyncWebClient) -> None:
    assert (await client.usergroups_users_list(usergroup=APPROVER_GROUP))["users"] == [APPROVER_1, APPROVER_2]
    error = await api_error(client.usergroups_users_list(usergroup="S0NOSUCHGR"))
    assert error.response["error"] == "no_such_subteam"
    groups = (await client.usergroups_list(include_users=True))["usergroups"]
    assert [g["id"] for g in groups] == [APPROVER_GROUP, ONCALL_GROUP, BREAK_GLASS_GROUP]
    group = groups[0]
    assert group["handle"] == "jit-approvers"
    assert group["users"] == [APPROVER_1, APPROVER_2]
    assert group["user_count"] == 2
    assert all("users" not in g for g in (await client.usergroups_list())["usergroups"])


# -- scopes -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scope", "method", "kwargs"),
    [
        ("chat:write", "chat_postMessage", {"channel": APPROVAL_CHANNEL, "text": "x"}),
        ("users:read", "users_info", {"user": ENGINEER}),
        ("usergroups:read", "usergroups_users_list", {"usergroup": APPROVER_GROUP}),
        ("im:write", "conversations_open", {"users": ENGINEER}),
    ],
)
async def test_missing_scope(session: aiohttp.ClientSession, scope: str, method: str, kwargs: dict[str, Any]) -> None:
    workspace = broad_workspace()
    workspace.scopes.remove(scope)
    async with SlackEmulator(workspace) as slack:
        client = AsyncWebClient(token=workspace.token, base_url=slack.api_url, session=session)
        error = await api_error(getattr(client, method)(**kwargs))
        assert error.response["error"] == "missing_scope"
        assert scope in error.response["needed"].split(",")
        assert scope not in error.response["provided"].split(",")
        assert (await client.auth_test())["ok"], "auth.test needs no scope"


# -- recording, events, waiting ----------------------------------------------------------------------


async def test_calls_are_recorded_with_args_and_response(slack: SlackEmulator, client: AsyncWebClient) -> None:
    await client.chat_postMessage(channel=APPROVAL_CHANNEL, text="hi", blocks=[SECTION])
    [call] = slack.calls_to("chat.postMessage")
    assert call.args["channel"] == APPROVAL_CHANNEL
    assert call.args["blocks"] == [SECTION]
    assert call.ok
    assert call.status == 200
    assert call.response["ts"]


async def test_subscribers_hear_every_change(slack: SlackEmulator, client: AsyncWebClient) -> None:
    events: list[SlackEvent] = []
    unsubscribe = slack.subscribe(events.append)
    posted = await client.chat_postMessage(channel=APPROVAL_CHANNEL, text="one")
    await client.chat_update(channel=APPROVAL_CHANNEL, ts=posted["ts"], text="two")
    unsubscribe()
    await client.chat_delete(channel=APPROVAL_CHANNEL, ts=posted["ts"])
    assert [e.kind for e in events] == [
        EventKind.MESSAGE_POSTED,
        EventKind.API_CALL,
        EventKind.MESSAGE_UPDATED,
        EventKind.API_CALL,
    ]
    assert events[2].message is not None
    assert events[2].message.text == "two"


async def test_a_failing_subscriber_does_not_break_the_emulator(slack: SlackEmulator, client: AsyncWebClient) -> None:
    def explode(event: SlackEvent) -> None:
        raise RuntimeError("subscriber bug")

    slack.subscribe(explode)
    assert (await client.chat_postMessage(channel=APPROVAL_CHANNEL, text="still works"))["ok"]


async def test_wait_for_call_sees_past_and_future_calls(slack: SlackEmulator, client: AsyncWebClient) -> None:
    await client.auth_test()
    assert (await slack.wait_for_call("auth.test", timeout=0.1)).ok
    waiting = asyncio.create_task(
        slack.wait_for_call("chat.postMessage", lambda c: c.args.get("text") == "second", timeout=5)
    )
    await client.chat_postMessage(channel=APPROVAL_CHANNEL, text="first")
    await client.chat_postMessage(channel=APPROVAL_CHANNEL, text="second")
    assert (await waiting).response["message"]["text"] == "second"
    message = await slack.wait_for_message(APPROVAL_CHANNEL, lambda m: m.text == "first", timeout=0.1)
    assert message.text == "first"
    with pytest.raises(TimeoutError, match=r"chat\.postMessage"):
        await slack.wait_for_call("views.open", timeout=0.05)


# -- faults -------------------------------------------------------------------------------------------


async def test_rate_limit_surfaces_as_429_with_retry_after(slack: SlackEmulator, client: AsyncWebClient) -> None:
    slack.faults.add("chat.postMessage", status=429, retry_after=7)
    error = await api_error(client.chat_postMessage(channel=APPROVAL_CHANNEL, text="x"))
    assert error.response.status_code == 429
    assert error.response["error"] == "ratelimited"
    assert error.response.headers["Retry-After"] == "7"
    assert slack.messages_in(APPROVAL_CHANNEL) == []
    assert (await client.chat_postMessage(channel=APPROVAL_CHANNEL, text="x"))["ok"], "times=1 by default"
    assert [c.status for c in slack.calls_to("chat.postMessage")] == [429, 200]


async def test_sdk_rate_limit_retry_handler_gets_through(slack: SlackEmulator, session: aiohttp.ClientSession) -> None:
    client = AsyncWebClient(
        token=slack.workspace.token,
        base_url=slack.api_url,
        session=session,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=2)],
    )
    slack.faults.add("chat.update", status=429, retry_after=0, times=2)
    posted = await client.chat_postMessage(channel=APPROVAL_CHANNEL, text="pending")
    await client.chat_update(channel=APPROVAL_CHANNEL, ts=posted["ts"], text="approved")
    assert slack.message(APPROVAL_CHANNEL, posted["ts"]).text == "approved"
    assert [c.status for c in slack.calls_to("chat.update")] == [429, 429, 200]


async def test_api_error_and_server_error_faults(slack: SlackEmulator, client: AsyncWebClient) -> None:
    slack.faults.add("users.info", error="internal_error", times=2)
    slack.faults.add("*", status=503, times=1)
    for _ in range(2):
        error = await api_error(client.users_info(user=ENGINEER))
        assert error.response.status_code == 200
        assert error.response["error"] == "internal_error"
    error = await api_error(client.users_info(user=ENGINEER))
    assert error.response.status_code == 503
    assert (await client.users_info(user=ENGINEER))["ok"]
    assert slack.faults.pending == []


async def test_delay_fault_slows_the_call_down(slack: SlackEmulator, client: AsyncWebClient) -> None:
    slack.faults.add("auth.test", delay=0.2)
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert (await client.auth_test())["ok"]
    assert loop.time() - started >= 0.2


async def test_offline_refuses_connections_then_comes_back(
    slack: SlackEmulator, session: aiohttp.ClientSession
) -> None:
    client = AsyncWebClient(token=slack.workspace.token, base_url=slack.api_url, session=session, retry_handlers=[])
    assert (await client.auth_test())["ok"]
    api_url = slack.api_url
    await slack.set_offline(True)
    assert slack.offline
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await client.auth_test()  # the pooled keep-alive connection is dropped
    with pytest.raises(aiohttp.ClientConnectorError):
        await client.auth_test()  # a new connection is refused
    await slack.set_offline(False)
    assert slack.api_url == api_url
    assert (await client.auth_test())["ok"]
    assert [c.method for c in slack.calls] == ["auth.test", "auth.test"]


async def test_offline_503(slack: SlackEmulator, client: AsyncWebClient) -> None:
    await slack.set_offline(True, mode="503")
    with pytest.raises(Exception) as caught:  # noqa: PT011 - slack_sdk raises a bare error for a non-JSON 503
        await client.auth_test()
    assert "503" in str(caught.value)
    assert slack.calls == []
    await slack.set_offline(False)
    assert (await client.auth_test())["ok"]


async def test_workspace_without_the_bot_user_gets_one(session: aiohttp.ClientSession) -> None:
    workspace = Workspace()
    assert workspace.user(workspace.bot.user_id) is not None
    assert workspace.people() == []
