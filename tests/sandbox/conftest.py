"""Fixtures shared by the Slack emulator tests: the demo workspace's emulator and clients pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from sandbox.slack import SlackEmulator
from sandbox.slack_workspace import Workspace, demo_workspace

# Read scopes jitbot's own app does not have, but the emulator implements and its tests exercise.
EXTRA_READ_SCOPES = ("im:read", "mpim:read")


def broad_workspace() -> Workspace:
    """The demo workspace with an app that also holds the extra read scopes."""
    workspace = demo_workspace()
    workspace.scopes.extend(EXTRA_READ_SCOPES)
    return workspace


@pytest.fixture
async def slack() -> AsyncIterator[SlackEmulator]:
    """The Slack emulator with the demo workspace (and an app with every scope the emulator checks)."""
    async with SlackEmulator(broad_workspace()) as emulator:
        yield emulator


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """One HTTP session, closed after the test."""
    async with aiohttp.ClientSession() as http:
        yield http


@pytest.fixture
def client(slack: SlackEmulator, session: aiohttp.ClientSession) -> AsyncWebClient:
    """slack_sdk's real Web API client, talking to the emulator with the bot token."""
    return AsyncWebClient(token=slack.workspace.token, base_url=slack.api_url, session=session)
