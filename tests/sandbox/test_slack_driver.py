"""The signed-request driver: signatures slack_sdk and a real Bolt app accept, payload shapes, Slack's follow-up."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from sandbox.slack import SlackEmulator
from sandbox.slack_driver import SlackDriver, sign, signed_headers
from sandbox.slack_state import Message, View
from sandbox.slack_workspace import APPROVAL_CHANNEL, APPROVER_1, ENGINEER, demo_workspace

SECRET = demo_workspace().signing_secret

# Slack's worked example from "Verifying requests from Slack".
DOC_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
DOC_TIMESTAMP = 1531420618
DOC_BODY = (
    "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
    "&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
    "&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
    "&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
DOC_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"


def card(request_id: str) -> list[dict[str, Any]]:
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"Request {request_id}"}},
        {
            "type": "actions",
            "block_id": "decide",
            "elements": [
                {
                    "type": "button",
                    "action_id": "jit_approve",
                    "style": "primary",
                    "text": {"type": "plain_text", "text": "Approve"},
                    "value": request_id,
                },
                {
                    "type": "button",
                    "action_id": "jit_deny",
                    "text": {"type": "plain_text", "text": "Deny"},
                    "value": request_id,
                },
            ],
        },
    ]


FORM: dict[str, Any] = {
    "type": "modal",
    "callback_id": "jit_request",
    "title": {"type": "plain_text", "text": "Request access"},
    "submit": {"type": "plain_text", "text": "Request"},
    "notify_on_close": True,
    "blocks": [
        {
            "type": "input",
            "block_id": "vm",
            "label": {"type": "plain_text", "text": "VM"},
            "element": {"type": "plain_text_input", "action_id": "vm_name", "initial_value": "web-01"},
        },
        {
            "type": "input",
            "block_id": "ports",
            "label": {"type": "plain_text", "text": "Ports"},
            "element": {
                "type": "multi_static_select",
                "action_id": "ports",
                "options": [
                    {"text": {"type": "plain_text", "text": "SSH"}, "value": "22"},
                    {"text": {"type": "plain_text", "text": "RDP"}, "value": "3389"},
                ],
            },
        },
        {
            "type": "input",
            "block_id": "duration",
            "label": {"type": "plain_text", "text": "Duration"},
            "element": {
                "type": "static_select",
                "action_id": "duration",
                "options": [{"text": {"type": "plain_text", "text": "1 hour"}, "value": "1h"}],
            },
        },
        {
            "type": "actions",
            "elements": [
                {"type": "button", "action_id": "form_help", "text": {"type": "plain_text", "text": "Help"}},
            ],
        },
    ],
}


# -- fixtures -----------------------------------------------------------------------------------------


@dataclass
class Recorder:
    """A stand-in app endpoint that records what it got and answers what the test says."""

    url: str = ""
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    status: int = 200
    answer: str = ""
    content_type: str = "application/json"


async def serve(handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_post("/slack/events", handler)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}/slack/events"


@pytest.fixture
async def recorder() -> AsyncIterator[Recorder]:
    rec = Recorder()

    async def handle(request: web.Request) -> web.StreamResponse:
        rec.requests.append((await request.text(), dict(request.headers)))
        return web.Response(status=rec.status, text=rec.answer, content_type=rec.content_type)

    runner, rec.url = await serve(handle)
    yield rec
    await runner.cleanup()


@pytest.fixture
async def driver(slack: SlackEmulator, recorder: Recorder) -> AsyncIterator[SlackDriver]:
    async with SlackDriver(recorder.url, SECRET, slack) as drv:
        yield drv


@dataclass
class Bolt:
    """A tiny real Bolt app served over HTTP, and what its listeners saw."""

    url: str
    seen: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
async def bolt(slack: SlackEmulator, session: aiohttp.ClientSession) -> AsyncIterator[Bolt]:
    client = AsyncWebClient(token=slack.workspace.token, base_url=slack.api_url, session=session)
    app = AsyncApp(client=client, signing_secret=SECRET)
    state = Bolt(url="")

    @app.middleware
    async def remember_headers(req: AsyncBoltRequest, resp: BoltResponse, next: Callable[[], Awaitable[Any]]) -> Any:
        state.headers.append(dict(req.headers))
        return await next()

    @app.command("/jit")
    async def jit(ack: Any, command: dict[str, Any], respond: Any, client: AsyncWebClient) -> None:
        state.seen.append(command)
        if command["text"] == "help":
            await ack(text="usage: /jit <ports> <vm> <duration>")
            return
        await ack()
        if command["text"] == "form":
            await client.views_open(trigger_id=command["trigger_id"], view=FORM)
            return
        await respond(text=f"request r1 sent: {command['text']}")
        await client.chat_postMessage(channel=APPROVAL_CHANNEL, text="request r1", blocks=card("r1"))

    @app.action("jit_approve")
    async def approve(ack: Any, body: dict[str, Any], respond: Any) -> None:
        await ack()
        state.seen.append(body)
        await respond(replace_original=True, text=f"approved by <@{body['user']['id']}>")

    @app.view("jit_request")
    async def submitted(ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        state.seen.append(body)
        if not view["state"]["values"]["ports"]["ports"]["selected_options"]:
            await ack(response_action="errors", errors={"ports": "Pick at least one port"})
            return
        await ack()

    async def handle(request: web.Request) -> web.StreamResponse:
        return await to_aiohttp_response(await app.async_dispatch(await to_bolt_request(request)))

    runner, state.url = await serve(handle)
    yield state
    await runner.cleanup()


@pytest.fixture
async def bolt_driver(slack: SlackEmulator, bolt: Bolt) -> AsyncIterator[SlackDriver]:
    async with SlackDriver(bolt.url, SECRET, slack) as drv:
        yield drv


async def posted_card(slack: SlackEmulator, request_id: str = "r1") -> Message:
    client = AsyncWebClient(token=slack.workspace.token, base_url=slack.api_url)
    response = await client.chat_postMessage(channel=APPROVAL_CHANNEL, text="card", blocks=card(request_id))
    return slack.message(APPROVAL_CHANNEL, response["ts"])


async def open_form(slack: SlackEmulator, user: str = ENGINEER) -> View:
    client = AsyncWebClient(token=slack.workspace.token, base_url=slack.api_url)
    response = await client.views_open(trigger_id=slack.new_trigger_id(user), view=FORM)
    return slack.view(response["view"]["id"])


# -- signing ------------------------------------------------------------------------------------------


def test_sign_matches_slacks_documented_example() -> None:
    assert sign(DOC_SECRET, DOC_TIMESTAMP, DOC_BODY) == DOC_SIGNATURE
    assert sign(DOC_SECRET, str(DOC_TIMESTAMP), DOC_BODY.encode()) == DOC_SIGNATURE


@settings(max_examples=50, deadline=None)
@given(body=st.text(), secret=st.text(min_size=1).filter(lambda s: s != SECRET))
def test_signatures_verify_with_slack_sdk(body: str, secret: str) -> None:
    now = int(time.time())
    verifier = SignatureVerifier(SECRET)
    assert verifier.is_valid(body, str(now), sign(SECRET, now, body))
    assert verifier.is_valid_request(body, signed_headers(SECRET, body, now))
    assert not verifier.is_valid(body, str(now), sign(secret, now, body))
    assert not verifier.is_valid(body + "x", str(now), sign(SECRET, now, body))
    assert not verifier.is_valid(body, str(now - 301), sign(SECRET, now - 301, body))


async def test_driver_requests_verify_and_carry_forgeries(driver: SlackDriver, recorder: Recorder) -> None:
    verifier = SignatureVerifier(SECRET)
    genuine = await driver.slash_command(ENGINEER, "ssh web-01 1h")
    assert verifier.is_valid_request(genuine.request.body, genuine.request.headers)
    body, headers = recorder.requests[-1]
    assert body == genuine.request.body
    assert headers["X-Slack-Signature"] == genuine.request.headers["X-Slack-Signature"]
    assert headers["User-Agent"].startswith("Slackbot")

    forged = await driver.slash_command(ENGINEER, "ssh web-01 1h", secret="not-the-secret")
    assert not verifier.is_valid_request(forged.request.body, forged.request.headers)
    stale = await driver.slash_command(ENGINEER, "ssh web-01 1h", timestamp=int(time.time()) - 600)
    assert recorder.requests[-1][1]["X-Slack-Request-Timestamp"] == stale.request.headers["X-Slack-Request-Timestamp"]
    assert not verifier.is_valid_request(stale.request.body, stale.request.headers)

    retried = await driver.slash_command(
        ENGINEER, "ssh web-01 1h", headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    )
    assert recorder.requests[-1][1]["X-Slack-Retry-Num"] == "1"
    assert recorder.requests[-1][1]["X-Slack-Retry-Reason"] == "http_timeout"
    assert verifier.is_valid_request(retried.request.body, retried.request.headers)

    assert driver.last_request == retried.request
    replayed = await driver.replay(genuine.request)
    assert recorder.requests[-1][0] == recorder.requests[0][0]
    assert recorder.requests[-1][1]["X-Slack-Signature"] == recorder.requests[0][1]["X-Slack-Signature"]
    assert replayed.request == genuine.request
    assert replayed.payload["text"] == "ssh web-01 1h"


# -- payload shapes -----------------------------------------------------------------------------------


async def test_slash_command_form_is_slacks(slack: SlackEmulator, driver: SlackDriver) -> None:
    response = await driver.slash_command(ENGINEER, "ssh web-01 2h fixing deploy", channel_id="#jit-approvals")
    form = response.payload
    assert list(form) == [
        "token",
        "team_id",
        "team_domain",
        "channel_id",
        "channel_name",
        "user_id",
        "user_name",
        "command",
        "text",
        "api_app_id",
        "is_enterprise_install",
        "response_url",
        "trigger_id",
    ]
    assert form["channel_id"] == APPROVAL_CHANNEL
    assert form["channel_name"] == "jit-approvals"
    assert (form["user_id"], form["user_name"], form["command"]) == (ENGINEER, "alice", "/jit")
    assert form["text"] == "ssh web-01 2h fixing deploy"
    assert form["response_url"].startswith(slack.base_url)
    assert form["team_id"] == slack.workspace.team_id
    dm = await driver.slash_command(ENGINEER, "help")
    assert dm.payload["channel_id"] == slack.dm_channel_id(ENGINEER)
    assert dm.payload["channel_name"] == "directmessage"


async def test_click_payload_is_slacks(slack: SlackEmulator, driver: SlackDriver) -> None:
    message = await posted_card(slack, "r7")
    response = await driver.click(APPROVER_1, message, "jit_deny")
    payload = response.payload
    assert payload["type"] == "block_actions"
    assert payload["user"] == {"id": APPROVER_1, "username": "bob", "name": "bob", "team_id": slack.workspace.team_id}
    assert payload["container"] == {
        "type": "message",
        "message_ts": message.ts,
        "channel_id": APPROVAL_CHANNEL,
        "is_ephemeral": False,
    }
    assert payload["channel"] == {"id": APPROVAL_CHANNEL, "name": "jit-approvals"}
    assert payload["message"]["ts"] == message.ts
    assert payload["message"]["blocks"] == message.blocks
    [action] = payload["actions"]
    assert action["action_id"] == "jit_deny"
    assert action["block_id"] == "decide"
    assert action["value"] == "r7"
    assert action["type"] == "button"
    assert float(action["action_ts"]) > 0
    assert payload["response_url"].startswith(slack.base_url)
    assert payload["trigger_id"]


async def test_click_on_an_ephemeral_has_no_message(slack: SlackEmulator, driver: SlackDriver) -> None:
    client = AsyncWebClient(token=slack.workspace.token, base_url=slack.api_url)
    sent = await client.chat_postEphemeral(channel=APPROVAL_CHANNEL, user=APPROVER_1, text="sure?", blocks=card("r2"))
    ephemeral = slack.message(APPROVAL_CHANNEL, sent["message_ts"])
    payload = (await driver.click(APPROVER_1, ephemeral, "jit_approve")).payload
    assert payload["container"]["is_ephemeral"] is True
    assert "message" not in payload


async def test_click_errors_and_tampering(slack: SlackEmulator, driver: SlackDriver) -> None:
    message = await posted_card(slack)
    with pytest.raises(LookupError, match="jit_approve"):
        await driver.click(APPROVER_1, message, "jit_extend")
    with pytest.raises(LookupError):
        await driver.click("U0NOSUCHUS", message, "jit_approve")
    tampered = await driver.click(APPROVER_1, message, "jit_approve", "someone-elses-request")
    assert tampered.payload["actions"][0]["value"] == "someone-elses-request"


async def test_view_payloads_and_values(slack: SlackEmulator, driver: SlackDriver) -> None:
    view = await open_form(slack)
    submitted = await driver.submit_view(ENGINEER, view, {"ports": ["22", "3389"], "duration": "1h"})
    payload = submitted.payload
    assert payload["type"] == "view_submission"
    assert payload["view"]["id"] == view.id
    assert payload["view"]["callback_id"] == "jit_request"
    values = payload["view"]["state"]["values"]
    assert values["vm"]["vm_name"] == {"type": "plain_text_input", "value": "web-01"}, "initial value is submitted"
    assert [o["value"] for o in values["ports"]["ports"]["selected_options"]] == ["22", "3389"]
    assert values["duration"]["duration"]["selected_option"]["text"]["text"] == "1 hour"
    assert "form_help" not in str(values), "buttons carry no state"
    with pytest.raises(KeyError, match="nope"):
        await driver.submit_view(ENGINEER, view, {"nope": "x"})

    home_client = AsyncWebClient(token=slack.workspace.token, base_url=slack.api_url)
    await home_client.views_publish(user_id=ENGINEER, view={"type": "home", "blocks": FORM["blocks"][3:]})
    clicked = await driver.click_home(ENGINEER, "form_help")
    assert clicked.payload["container"]["type"] == "view"
    assert clicked.payload["view"]["type"] == "home"
    assert "response_url" not in clicked.payload
    with pytest.raises(LookupError):
        await driver.click_home(APPROVER_1, "form_help")


async def test_slash_command_ack_body_is_shown_like_slack(
    slack: SlackEmulator, driver: SlackDriver, recorder: Recorder
) -> None:
    recorder.answer = '{"text": "usage: /jit ssh vm 1h"}'
    await driver.slash_command(ENGINEER, "bogus", channel_id=APPROVAL_CHANNEL)
    assert [(m.text, m.current.via) for m in slack.ephemerals_for(ENGINEER)] == [("usage: /jit ssh vm 1h", "ack")]
    recorder.answer, recorder.content_type = "plain words", "text/plain"
    await driver.slash_command(ENGINEER, "bogus", channel_id=APPROVAL_CHANNEL)
    assert slack.ephemerals_for(ENGINEER)[-1].text == "plain words"
    recorder.answer, recorder.content_type = '{"response_type": "in_channel", "text": "hi all"}', "application/json"
    await driver.slash_command(ENGINEER, "bogus", channel_id=APPROVAL_CHANNEL)
    assert [m.text for m in slack.messages_in(APPROVAL_CHANNEL)] == ["hi all"]
    recorder.answer = ""
    response = await driver.slash_command(ENGINEER, "bogus", channel_id=APPROVAL_CHANNEL)
    assert response.acked_in_time
    assert len(slack.ephemerals_for(ENGINEER)) == 2


@pytest.mark.parametrize(
    ("answer", "stack_titles", "rejected"),
    [
        ("", [], False),
        ('{"response_action": "clear"}', [], False),
        (
            '{"response_action": "update", "view": {"type": "modal", "title": {"type": "plain_text", "text": "Sent"}, '
            '"blocks": []}}',
            ["Sent"],
            False,
        ),
        (
            '{"response_action": "push", "view": {"type": "modal", "title": {"type": "plain_text", "text": "Next"}, '
            '"blocks": []}}',
            ["Request access", "Next"],
            False,
        ),
        ('{"response_action": "update", "view": {"type": "modal", "blocks": []}}', ["Request access"], True),
        ('{"response_action": "errors", "errors": {}}', ["Request access"], True),
    ],
)
async def test_view_submission_answers_are_applied(
    slack: SlackEmulator,
    driver: SlackDriver,
    recorder: Recorder,
    answer: str,
    stack_titles: list[str],
    rejected: bool,
) -> None:
    view = await open_form(slack)
    recorder.answer = answer
    response = await driver.submit_view(ENGINEER, view, {"ports": ["22"]})
    assert [v.title for v in slack.views_for(ENGINEER)] == stack_titles
    assert bool(response.rejected) is rejected


async def test_view_submission_errors_and_failed_acks_keep_the_modal_open(
    slack: SlackEmulator, driver: SlackDriver, recorder: Recorder
) -> None:
    view = await open_form(slack)
    recorder.status = 500
    await driver.submit_view(ENGINEER, view, {"ports": ["22"]})
    assert slack.views_for(ENGINEER) == [view]
    recorder.status, recorder.answer = 200, '{"response_action": "errors", "errors": {"ports": "Pick one"}}'
    await driver.submit_view(ENGINEER, view, {"ports": []})
    assert view.errors == {"ports": "Pick one"}
    assert slack.views_for(ENGINEER) == [view]


async def test_close_view_notifies_only_when_asked(
    slack: SlackEmulator, driver: SlackDriver, recorder: Recorder
) -> None:
    view = await open_form(slack)
    closed = await driver.close_view(ENGINEER, view)
    assert closed is not None
    assert closed.payload["type"] == "view_closed"
    assert slack.views_for(ENGINEER) == []
    quiet = await AsyncWebClient(token=slack.workspace.token, base_url=slack.api_url).views_open(
        trigger_id=slack.new_trigger_id(ENGINEER), view={**FORM, "notify_on_close": False}
    )
    before = len(recorder.requests)
    assert await driver.close_view(ENGINEER, slack.view(quiet["view"]["id"])) is None
    assert len(recorder.requests) == before


# -- a real Bolt app ----------------------------------------------------------------------------------


async def test_bolt_accepts_a_slash_command_and_the_emulator_shows_the_results(
    slack: SlackEmulator, bolt: Bolt, bolt_driver: SlackDriver
) -> None:
    help_answer = await bolt_driver.slash_command(ENGINEER, "help")
    assert help_answer.status == 200
    assert help_answer.acked_in_time
    assert [m.text for m in slack.ephemerals_for(ENGINEER)] == ["usage: /jit <ports> <vm> <duration>"]

    await bolt_driver.slash_command(ENGINEER, "ssh web-01 1h", channel_id=APPROVAL_CHANNEL)
    message = await slack.wait_for_message(APPROVAL_CHANNEL, lambda m: m.text == "request r1")
    reply = await slack.wait_until(lambda: [m for m in slack.ephemerals_for(ENGINEER, APPROVAL_CHANNEL)])
    assert reply[0].text == "request r1 sent: ssh web-01 1h"
    assert [b.action_id for b in message.buttons()] == ["jit_approve", "jit_deny"]
    assert bolt.seen[-1]["user_id"] == ENGINEER


async def test_bolt_accepts_a_click_and_replaces_the_card(
    slack: SlackEmulator, bolt: Bolt, bolt_driver: SlackDriver
) -> None:
    message = await posted_card(slack)
    response = await bolt_driver.click(APPROVER_1, message, "jit_approve")
    assert response.status == 200
    await slack.wait_until(lambda: message.text == f"approved by <@{APPROVER_1}>")
    assert message.buttons() == []
    assert bolt.seen[-1]["actions"][0]["value"] == "r1"


async def test_bolt_accepts_a_view_submission(slack: SlackEmulator, bolt: Bolt, bolt_driver: SlackDriver) -> None:
    await bolt_driver.slash_command(ENGINEER, "form")
    [view] = await slack.wait_until(lambda: slack.views_for(ENGINEER))
    refused = await bolt_driver.submit_view(ENGINEER, view, {"ports": []})
    assert refused.json == {"response_action": "errors", "errors": {"ports": "Pick at least one port"}}
    assert view.errors == {"ports": "Pick at least one port"}
    accepted = await bolt_driver.submit_view(ENGINEER, view, {"ports": ["22"]})
    assert accepted.status == 200
    assert slack.views_for(ENGINEER) == []
    assert bolt.seen[-1]["view"]["state"]["values"]["ports"]["ports"]["selected_options"][0]["value"] == "22"


async def test_bolt_refuses_forged_and_stale_requests(
    slack: SlackEmulator, bolt: Bolt, bolt_driver: SlackDriver
) -> None:
    forged = await bolt_driver.slash_command(ENGINEER, "help", secret="guessed-secret")
    stale = await bolt_driver.slash_command(ENGINEER, "help", timestamp=int(time.time()) - 301)
    assert (forged.status, stale.status) == (401, 401)
    assert bolt.seen == []
    assert slack.ephemerals_for(ENGINEER) == []


async def test_replays_and_retry_headers_reach_bolt_unchanged(bolt: Bolt, bolt_driver: SlackDriver) -> None:
    first = await bolt_driver.slash_command(
        ENGINEER, "help", headers={"X-Slack-Retry-Num": "2", "X-Slack-Retry-Reason": "http_timeout"}
    )
    assert bolt.headers[-1]["x-slack-retry-num"] == ["2"]
    assert bolt.headers[-1]["x-slack-retry-reason"] == ["http_timeout"]
    replayed = await bolt_driver.replay(first.request)
    assert replayed.status == 200, "Bolt alone does not refuse replays: the bot must"
    assert len(bolt.seen) == 2
    assert bolt.seen[0] == bolt.seen[1]
