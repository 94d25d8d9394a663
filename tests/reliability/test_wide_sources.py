"""Very wide sources through the real bot: under a policy that allows any source, a prefix wider than the threshold
is flagged to approvers and to the requester, and a rule can refuse it before any card (audited)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from jit.clock import ManualClock
from sandbox.redis_server import RedisServer
from sandbox.slack_workspace import APPROVAL_CHANNEL, ENGINEER
from sandbox.stack import Stack
from tests.e2e.flow import driver_of, ephemeral_reply, request_card
from tests.e2e.lifecycle_support import current, lifecycle_stack

REFUSING = """
rules:
  - name: prod-data
    match: {resource_group: rg-data}
    refuse_wide_sources: true
"""


@pytest.fixture
async def stack(redis_server: RedisServer, tmp_path: Path) -> AsyncIterator[Stack]:
    async with lifecycle_stack(redis_server, ManualClock(), tmp_path, rules=REFUSING) as running:
        yield running


@pytest.mark.parametrize(
    ("source", "threshold", "spans"),
    [("0.0.0.0/1", "16", "2,147,483,648"), ("10.0.0.0/15", "16", "131,072"), ("2001:db8::/32", "48", "79,228,162")],
)
async def test_a_source_wider_than_the_threshold_is_flagged_on_the_card_and_in_the_confirmation(
    stack: Stack, source: str, threshold: str, spans: str
) -> None:
    card, request_id = await request_card(stack, ENGINEER, f"ssh web-01 1h from {source} vendor access")

    text = str(card.blocks)
    assert "Wide source:" in text and f"wider than /{threshold}" in text and spans in text
    assert ":warning: wide" in text
    confirmation = await ephemeral_reply(stack, ENGINEER, request_id)
    assert "is a wide range" in confirmation and f"wider than /{threshold}" in confirmation
    assert (await current(stack, request_id)).extra["wide_source"] == threshold


@pytest.mark.parametrize("source", ["198.51.0.0/16", "198.51.100.7", "2001:db8:1::/48"])
async def test_a_source_within_the_threshold_is_not_flagged(stack: Stack, source: str) -> None:
    card, request_id = await request_card(stack, ENGINEER, f"ssh web-01 1h from {source} one office")

    assert "Wide source" not in str(card.blocks)
    assert "wide_source" not in (await current(stack, request_id)).extra
    assert "wide range" not in await ephemeral_reply(stack, ENGINEER, request_id)


async def test_a_rule_refuses_a_wide_source_before_any_card_and_audits_it(stack: Stack) -> None:
    await driver_of(stack).slash_command(ENGINEER, "ssh db-01 1h from 10.0.0.0/8 maintenance")

    reply = await ephemeral_reply(stack, ENGINEER, "refuses wide sources")
    assert "`10.0.0.0/8` is wider than /16 (16,777,216 addresses)" in reply and "rule `prod-data`" in reply
    assert "/jit ssh db-01 1h from 203.0.113.10/32 maintenance" in reply
    assert not [m for m in stack.slack.messages_in(APPROVAL_CHANNEL) if "db-01" in str(m.blocks)]
    assert await stack.runtime.store.by_requester(ENGINEER) == []
    [refused] = [r async for r in stack.runtime.audit.entries() if r.event == "wide_source_refused"]
    assert (refused.actor, refused.request_id) == (ENGINEER, None)
    assert refused.detail == {"vm": "db-01", "source": "10.0.0.0/8", "rule": "prod-data", "wider_than": "/16"}

    card, _ = await request_card(stack, ENGINEER, "ssh db-01 1h from 203.0.113.0/24 maintenance")
    assert "Wide source" not in str(card.blocks)
