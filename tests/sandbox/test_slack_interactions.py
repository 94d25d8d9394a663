"""Response URLs, modals and App Home in the Slack emulator, through slack_sdk's own clients."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from sandbox.slack import SlackEmulator
from sandbox.slack_workspace import APPROVAL_CHANNEL, APPROVER_1, ENGINEER, FORMER_EMPLOYEE, demo_workspace

CARD: list[dict[str, Any]] = [
    {"type": "section", "text": {"type": "mrkdwn", "text": "alice asks for ssh on vm-1"}},
    {
        "type": "actions",
        "elements": [{"type": "button", "action_id": "jit_approve", "text": {"type": "plain_text", "text": "Approve"}}],
    },
]


def modal(title: str = "Request access", **extra: Any) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": "jit_request",
        "title": {"type": "plain_text", "text": title},
        "submit": {"type": "plain_text", "text": "Request"},
        "blocks": [
            {
                "type": "input",
                "block_id": "vm",
                "label": {"type": "plain_text", "text": "VM"},
                "element": {"type": "plain_text_input", "action_id": "vm_name"},
            }
        ],
        **extra,
    }


HOME = {"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "No active access"}}]}


async def api_error(call: Any) -> str:
    with pytest.raises(SlackApiError) as caught:
        await call
    return str(caught.value.response["error"])


# -- response URLs ------------------------------------------------------------------------------------


async def test_response_url_defaults_to_an_ephemeral_for_the_user(
    slack: SlackEmulator, session: aiohttp.ClientSession
) -> None:
    url = slack.new_response_url(user=ENGINEER, channel=APPROVAL_CHANNEL)
    response = await AsyncWebhookClient(url, session=session).send(text="request r1 sent for approval")
    assert response.status_code == 200
    [shown] = slack.ephemerals_for(ENGINEER, APPROVAL_CHANNEL)
    assert shown.text == "request r1 sent for approval"
    assert shown.current.via == "response_url"
    assert slack.messages_in(APPROVAL_CHANNEL) == []
    [call] = slack.calls_to("response_url")
    assert call.args["text"] == "request r1 sent for approval"
    assert call.ok


async def test_response_url_in_channel(slack: SlackEmulator, session: aiohttp.ClientSession) -> None:
    url = slack.new_response_url(user=ENGINEER, channel=APPROVAL_CHANNEL)
    await AsyncWebhookClient(url, session=session).send(text="for everyone", response_type="in_channel")
    assert [m.text for m in slack.messages_in(APPROVAL_CHANNEL)] == ["for everyone"]
    assert slack.ephemerals_for(ENGINEER) == []


async def test_response_url_replaces_the_clicked_message_entirely(
    slack: SlackEmulator, client: AsyncWebClient, session: aiohttp.ClientSession
) -> None:
    posted = await client.chat_postMessage(channel=APPROVAL_CHANNEL, text="pending", blocks=CARD)
    card = slack.message(APPROVAL_CHANNEL, posted["ts"])
    url = slack.new_response_url(user=APPROVER_1, channel=APPROVAL_CHANNEL, message=card)
    await AsyncWebhookClient(url, session=session).send(text="approved by bob", replace_original=True)
    assert card.text == "approved by bob"
    assert card.blocks == [], "a replacement without blocks removes them, unlike chat.update"
    assert [v.via for v in card.versions] == ["chat.postMessage", "response_url"]
    assert slack.ephemerals_for(APPROVER_1) == []


async def test_response_url_without_replace_leaves_the_card_alone(
    slack: SlackEmulator, client: AsyncWebClient, session: aiohttp.ClientSession
) -> None:
    posted = await client.chat_postMessage(channel=APPROVAL_CHANNEL, text="pending", blocks=CARD)
    card = slack.message(APPROVAL_CHANNEL, posted["ts"])
    url = slack.new_response_url(user=APPROVER_1, channel=APPROVAL_CHANNEL, message=card)
    await AsyncWebhookClient(url, session=session).send(text="you may not approve your own request")
    assert len(card.versions) == 1
    assert [m.text for m in slack.ephemerals_for(APPROVER_1)] == ["you may not approve your own request"]


async def test_response_url_deletes_the_original(
    slack: SlackEmulator, client: AsyncWebClient, session: aiohttp.ClientSession
) -> None:
    posted = await client.chat_postMessage(channel=APPROVAL_CHANNEL, text="pending", blocks=CARD)
    card = slack.message(APPROVAL_CHANNEL, posted["ts"])
    url = slack.new_response_url(user=APPROVER_1, channel=APPROVAL_CHANNEL, message=card)
    await AsyncWebhookClient(url, session=session).send(delete_original=True)
    assert card.deleted
    assert slack.messages_in(APPROVAL_CHANNEL) == []


async def test_response_url_replaces_an_ephemeral_message(
    slack: SlackEmulator, client: AsyncWebClient, session: aiohttp.ClientSession
) -> None:
    sent = await client.chat_postEphemeral(channel=APPROVAL_CHANNEL, user=APPROVER_1, text="confirm?", blocks=CARD)
    ephemeral = slack.message(APPROVAL_CHANNEL, sent["message_ts"])
    url = slack.new_response_url(user=APPROVER_1, channel=APPROVAL_CHANNEL, message=ephemeral)
    await AsyncWebhookClient(url, session=session).send(text="done", replace_original=True)
    assert [m.text for m in slack.ephemerals_for(APPROVER_1)] == ["done"]


async def test_response_url_limits_and_errors(slack: SlackEmulator, session: aiohttp.ClientSession) -> None:
    url = slack.new_response_url(user=ENGINEER, channel=APPROVAL_CHANNEL)
    webhook = AsyncWebhookClient(url, session=session)
    for i in range(5):
        assert (await webhook.send(text=f"update {i}")).status_code == 200
    used = await webhook.send(text="sixth")
    assert used.status_code == 404
    assert "used_url" in used.body
    unknown = await AsyncWebhookClient(f"{slack.base_url}/response/nope", session=session).send(text="x")
    assert unknown.status_code == 404
    assert "expired_url" in unknown.body
    fresh = AsyncWebhookClient(slack.new_response_url(user=ENGINEER, channel=APPROVAL_CHANNEL), session=session)
    empty = await fresh.send(text="")
    assert "no_text" in empty.body
    assert (await fresh.send(text="x", blocks=[{"type": "nonsense"}])).body.count("invalid_blocks") == 1
    async with session.post(fresh.url, data=b"not json") as response:
        assert response.status == 400
    assert len(slack.ephemerals_for(ENGINEER)) == 5


async def test_response_url_expires(session: aiohttp.ClientSession) -> None:
    async with SlackEmulator(demo_workspace(), response_url_ttl=0.05) as slack:
        url = slack.new_response_url(user=ENGINEER, channel=APPROVAL_CHANNEL)
        await asyncio.sleep(0.1)
        response = await AsyncWebhookClient(url, session=session).send(text="too late")
        assert response.status_code == 404
        assert slack.ephemerals_for(ENGINEER) == []


async def test_response_url_faults(slack: SlackEmulator, session: aiohttp.ClientSession) -> None:
    slack.faults.add("response_url", status=429, retry_after=3)
    webhook = AsyncWebhookClient(slack.new_response_url(user=ENGINEER, channel=APPROVAL_CHANNEL), session=session)
    limited = await webhook.send(text="x")
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "3"
    assert (await webhook.send(text="x")).status_code == 200


# -- modals -------------------------------------------------------------------------------------------


async def test_views_open_uses_a_trigger_once(slack: SlackEmulator, client: AsyncWebClient) -> None:
    trigger = slack.new_trigger_id(ENGINEER)
    response = await client.views_open(trigger_id=trigger, view=modal())
    view = response["view"]
    assert view["id"].startswith("V")
    assert view["callback_id"] == "jit_request"
    assert view["state"] == {"values": {}}
    assert view["root_view_id"] == view["id"]
    [open_view] = slack.views_for(ENGINEER)
    assert open_view.id == view["id"]
    assert open_view.title == "Request access"
    assert await api_error(client.views_open(trigger_id=trigger, view=modal())) == "exchanged_trigger_id"
    assert await api_error(client.views_open(trigger_id="123.456.abc", view=modal())) == "invalid_trigger_id"


async def test_views_open_trigger_expires(session: aiohttp.ClientSession) -> None:
    async with SlackEmulator(demo_workspace(), trigger_ttl=0.05) as slack:
        client = AsyncWebClient(token=slack.workspace.token, base_url=slack.api_url, session=session)
        trigger = slack.new_trigger_id(ENGINEER)
        await asyncio.sleep(0.1)
        assert await api_error(client.views_open(trigger_id=trigger, view=modal())) == "expired_trigger_id"
        assert slack.views_for(ENGINEER) == []


@pytest.mark.parametrize(
    ("view", "problem"),
    [
        (modal(title="A title far too long for Slack"), "/view/title/text"),
        (modal(submit={"type": "mrkdwn", "text": "Go"}), "/view/submit/type"),
        ({k: v for k, v in modal().items() if k != "submit"}, "/view/submit"),
        ({**modal(), "type": "home"}, "/view/type"),
        (modal(private_metadata="x" * 3001), "/view/private_metadata"),
    ],
)
async def test_views_open_validates_the_view(
    slack: SlackEmulator, client: AsyncWebClient, view: dict[str, Any], problem: str
) -> None:
    with pytest.raises(SlackApiError) as caught:
        await client.views_open(trigger_id=slack.new_trigger_id(ENGINEER), view=view)
    assert caught.value.response["error"] == "invalid_arguments"
    assert any(problem in m for m in caught.value.response["response_metadata"]["messages"])


async def test_views_update_by_id_or_external_id_with_hash(slack: SlackEmulator, client: AsyncWebClient) -> None:
    opened = (await client.views_open(trigger_id=slack.new_trigger_id(ENGINEER), view=modal(external_id="req-1")))[
        "view"
    ]
    updated = (
        await client.views_update(
            view_id=opened["id"], view=modal("Checking…", external_id="req-1"), hash=opened["hash"]
        )
    )["view"]
    assert updated["id"] == opened["id"]
    assert updated["hash"] != opened["hash"]
    assert await api_error(client.views_update(view_id=opened["id"], view=modal(), hash=opened["hash"])) == (
        "hash_conflict"
    )
    await client.views_update(external_id="req-1", view=modal("Done", external_id="req-1"))
    view = slack.view(opened["id"])
    assert [v["title"]["text"] for v in view.versions] == ["Request access", "Checking…"]
    assert view.title == "Done"
    assert await api_error(client.views_update(view_id="V0NOSUCHVW", view=modal())) == "not_found"


async def test_views_push_stacks_up_to_three(slack: SlackEmulator, client: AsyncWebClient) -> None:
    root = (await client.views_open(trigger_id=slack.new_trigger_id(ENGINEER), view=modal()))["view"]
    second = (await client.views_push(trigger_id=slack.new_trigger_id(ENGINEER), view=modal("Step 2")))["view"]
    assert second["root_view_id"] == root["id"]
    assert second["previous_view_id"] == root["id"]
    await client.views_push(trigger_id=slack.new_trigger_id(ENGINEER), view=modal("Step 3"))
    assert [v.title for v in slack.views_for(ENGINEER)] == ["Request access", "Step 2", "Step 3"]
    error = await api_error(client.views_push(trigger_id=slack.new_trigger_id(ENGINEER), view=modal("Step 4")))
    assert error == "push_limit_reached"


async def test_opening_a_modal_replaces_open_ones_and_closed_views_cannot_be_updated(
    slack: SlackEmulator, client: AsyncWebClient
) -> None:
    first = (await client.views_open(trigger_id=slack.new_trigger_id(ENGINEER), view=modal("First")))["view"]
    await client.views_open(trigger_id=slack.new_trigger_id(ENGINEER), view=modal("Second"))
    assert [v.title for v in slack.views_for(ENGINEER)] == ["Second"]
    assert slack.view(first["id"]).closed
    assert await api_error(client.views_update(view_id=first["id"], view=modal())) == "not_found"


async def test_views_publish_keeps_one_home_per_user(slack: SlackEmulator, client: AsyncWebClient) -> None:
    first = (await client.views_publish(user_id=ENGINEER, view=HOME))["view"]
    assert first["type"] == "home"
    again = (await client.views_publish(user_id=ENGINEER, view=HOME, hash=first["hash"]))["view"]
    assert again["id"] == first["id"]
    home = slack.home_for(ENGINEER)
    assert home is not None
    assert len(home.versions) == 1
    assert slack.home_for(APPROVER_1) is None
    assert await api_error(client.views_publish(user_id=ENGINEER, view=HOME, hash=first["hash"])) == "hash_conflict"
    assert await api_error(client.views_publish(user_id=FORMER_EMPLOYEE, view=HOME)) == "user_not_found"
    assert await api_error(client.views_publish(user_id=ENGINEER, view=modal())) == "invalid_arguments"
