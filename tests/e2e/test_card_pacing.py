"""A burst of requests against Slack's posting limit: every card once, every Retry-After honoured, a backlog notice."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import pytest

from sandbox.redis_server import RedisServer
from sandbox.slack_rate_limits import PostingLimit
from sandbox.slack_workspace import APPROVAL_CHANNEL, ENGINEER
from sandbox.stack import Stack, StackOptions
from tests.e2e.flow import driver_of

BURST = 14
LIMITS = {"JITBOT_COMMANDS_PER_MINUTE": "1000", "JITBOT_MAX_PENDING_PER_USER": "1000"}


@pytest.fixture
async def limited(redis_server: RedisServer) -> AsyncIterator[Stack]:
    """The demo world with Slack's posting limit at a burst of 2, then one a second."""
    async with Stack(StackOptions(redis_url=redis_server.url, env=LIMITS)) as running:
        running.slack.posting_limit = PostingLimit(burst=2, per_second=1.0)
        yield running


def _cards(stack: Stack) -> list[str]:
    return [
        m.text or ""
        for m in stack.slack.messages_in(APPROVAL_CHANNEL)
        if any(b.action_id == "jit_approve" for b in m.buttons())
    ]


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_a_burst_posts_every_card_once_at_slacks_pace_with_a_backlog_notice(limited: Stack) -> None:
    driver = driver_of(limited)
    answers = await asyncio.gather(*(driver.slash_command(ENGINEER, f"ssh web-01 2h burst-{n}") for n in range(BURST)))
    assert {answer.status for answer in answers} == {200}
    await limited.slack.wait_until(lambda: len(_cards(limited)) >= BURST or None, timeout=60)
    await limited.slack.wait_until(
        lambda: (
            any(
                "waiting approval cards are posted" in (m.text or "")
                for m in limited.slack.messages_in(APPROVAL_CHANNEL)
            )
            or None
        ),
        timeout=15,
    )

    posts = [
        c
        for c in limited.slack.calls_to("chat.postMessage")
        if c.args.get("channel") == APPROVAL_CHANNEL and c.args.get("blocks")
    ]
    card_posts = [c for c in posts if "burst-" in str(c.args)]
    delivered = [re.search(r"burst-\d+", str(c.args)) for c in card_posts if c.status == 200]
    assert sorted(m.group(0) for m in delivered if m) == sorted(f"burst-{n}" for n in range(BURST)), "each card once"
    assert len(_cards(limited)) == BURST
    throttled = [c for c in posts if c.status == 429]
    assert throttled, "the burst ran into Slack's limit"
    for refused in throttled:
        # The emulator answers Retry-After: 1 here; posts already in flight land within milliseconds.
        inside = [c for c in posts if refused.at + 0.1 < c.at < refused.at + 0.9]
        assert inside == [], "after a 429 the channel gets nothing until Retry-After has passed"
    notices = [m for m in limited.slack.messages_in(APPROVAL_CHANNEL) if "approval cards" in (m.text or "")]
    assert len(notices) == 1, "one backlog notice, updated in place"
    assert "posted" in (notices[0].text or "")
    assert not any(b.action_id == "jit_approve" for b in notices[0].buttons()), "nothing to approve in bulk"
    assert limited.runtime.scheduler.stats.failed == 0, "a deferred card is not a failure"
