"""Requesters' emails from Slack's users.info: found, cached, and every way there is none explained."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.people import SlackPeople
from jit.errors import IdentityUnavailable
from sandbox.slack import SlackEmulator
from sandbox.slack_workspace import ENGINEER, demo_workspace


@pytest.fixture
async def slack() -> AsyncIterator[SlackEmulator]:
    async with SlackEmulator(demo_workspace()) as emulator:
        yield emulator


def people(slack: SlackEmulator) -> SlackPeople:
    return SlackPeople(AsyncWebClient(token=slack.workspace.token, base_url=slack.api_url))


async def test_the_email_is_read_once_and_cached(slack: SlackEmulator) -> None:
    directory = people(slack)
    assert await directory.email_of(ENGINEER) == "alice@contoso.com"
    assert await directory.email_of(ENGINEER) == "alice@contoso.com"
    assert len(slack.calls_to("users.info")) == 1


async def test_without_the_email_scope_the_reason_names_it(slack: SlackEmulator) -> None:
    slack.workspace.scopes.remove("users:read.email")
    with pytest.raises(IdentityUnavailable, match=r"users:read\.email"):
        await people(slack).email_of(ENGINEER)


async def test_without_users_read_the_reason_says_reinstall(slack: SlackEmulator) -> None:
    slack.workspace.scopes.remove("users:read")
    with pytest.raises(IdentityUnavailable, match="missing_scope"):
        await people(slack).email_of(ENGINEER)


async def test_an_unknown_user_is_explained(slack: SlackEmulator) -> None:
    with pytest.raises(IdentityUnavailable, match="user_not_found"):
        await people(slack).email_of("U0NOSUCHUS")


async def test_slack_not_answering_is_explained(slack: SlackEmulator) -> None:
    client = AsyncWebClient(token=slack.workspace.token, base_url=slack.api_url)
    await slack.stop()
    with pytest.raises(IdentityUnavailable, match="did not answer"):
        await SlackPeople(client).email_of(ENGINEER)
