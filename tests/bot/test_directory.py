"""User-group membership through the Slack emulator: cached briefly, one call for a burst of cold lookups."""

from __future__ import annotations

import asyncio

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.directory import SlackDirectory
from jit.errors import GroupUnreadable
from sandbox.slack import SlackEmulator
from sandbox.slack_workspace import APPROVER_1, APPROVER_2, APPROVER_GROUP


async def test_a_burst_of_cold_lookups_makes_one_call_and_the_cache_expires() -> None:
    clock = [0.0]
    async with SlackEmulator() as slack:
        client = AsyncWebClient(token=slack.workspace.token, base_url=slack.api_url)
        directory = SlackDirectory(client, ttl_seconds=60, monotonic=lambda: clock[0])

        results = await asyncio.gather(*(directory.group_members(APPROVER_GROUP) for _ in range(20)))

        assert all(r == frozenset({APPROVER_1, APPROVER_2}) for r in results)
        assert len(slack.calls_to("usergroups.users.list")) == 1
        await directory.group_members(APPROVER_GROUP)
        assert len(slack.calls_to("usergroups.users.list")) == 1
        clock[0] = 61
        await directory.group_members(APPROVER_GROUP)
        assert len(slack.calls_to("usergroups.users.list")) == 2


async def test_an_unknown_group_has_no_members() -> None:
    async with SlackEmulator() as slack:
        client = AsyncWebClient(token=slack.workspace.token, base_url=slack.api_url)
        assert await SlackDirectory(client).group_members("S0NOSUCHGRP") == frozenset()


async def test_readable_members_refuses_to_read_an_unknown_or_unreachable_group_as_empty() -> None:
    async with SlackEmulator() as slack:
        client = AsyncWebClient(token=slack.workspace.token, base_url=slack.api_url)
        directory = SlackDirectory(client)
        assert await directory.readable_members(APPROVER_GROUP) == frozenset({APPROVER_1, APPROVER_2})

        with pytest.raises(GroupUnreadable) as unknown:
            await directory.readable_members("S0NOSUCHGRP")
        slack.faults.add("usergroups.users.list", error="internal_error")
        with pytest.raises(GroupUnreadable) as failing:
            await directory.readable_members("S0BREAKGLS")

        assert (unknown.value.group_id, unknown.value.why) == ("S0NOSUCHGRP", "no_such_subteam")
        assert (failing.value.group_id, failing.value.why) == ("S0BREAKGLS", "internal_error")
        assert await directory.readable_members("S0BREAKGLS")
