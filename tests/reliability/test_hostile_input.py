"""Hostile input through the real HTTP endpoint: forged, stale and replayed requests, oversized and tricky text,
mention and link injection, CIDR abuse, names Azure could not hold, and tampered button values.

The parser itself is fuzzed with 10,000 hypothesis cases in tests/bot/grammar/test_fuzz.py; here a smaller
hypothesis run goes through the whole bot over HTTP.
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
import redis.asyncio as aioredis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jit.model import RequestState
from jit.store.audit import AuditRecord
from sandbox.redis_server import RedisServer
from sandbox.slack_workspace import APPROVAL_CHANNEL, APPROVER_1, APPROVER_2, ENGINEER, ONCALL
from sandbox.stack import Stack, StackOptions
from tests.e2e.flow import deny, driver_of, ephemeral_reply, request_card

APOLOGY = "something went wrong"
FORM = "application/x-www-form-urlencoded"
SCHEDULER_BOOKKEEPING = (b":schedule", b":schedule:claims", b":schedule:attempts")


@pytest.fixture
async def stack(redis_server: RedisServer) -> AsyncIterator[Stack]:
    options = StackOptions(
        redis_url=redis_server.url,
        env={
            "JITBOT_COMMANDS_PER_MINUTE": "100000",
            "JITBOT_INTERACTIONS_PER_MINUTE": "100000",
            "JITBOT_MAX_PENDING_PER_USER": "1000",
        },
    )
    async with Stack(options) as running:
        yield running


async def _keys(redis_url: str) -> set[bytes]:
    """Every key but the scheduler's own lease bookkeeping (its background passes touch those)."""
    client = aioredis.Redis.from_url(redis_url)
    try:
        return {key async for key in client.scan_iter(count=1000) if not key.endswith(SCHEDULER_BOOKKEEPING)}
    finally:
        await client.aclose()


async def _audit_length(stack: Stack) -> int:
    return await stack.runtime.audit.length()


def _apologies(stack: Stack) -> list[str]:
    return [
        m.text for user in (ENGINEER, APPROVER_1) for m in stack.slack.ephemerals_for(user) if APOLOGY in m.text.lower()
    ]


# -- authenticity --------------------------------------------------------------------------------------------


async def test_forged_signature_stale_timestamp_and_replay_are_refused_and_change_nothing_but_the_tally(
    stack: Stack, redis_server: RedisServer
) -> None:
    driver = driver_of(stack)
    _, request_id = await request_card(stack, ENGINEER, "ssh web-01 1h baseline")
    card = next(m for m in stack.slack.messages_in(APPROVAL_CHANNEL) if request_id in str(m.blocks))
    await stack.slack.wait_until(lambda: stack.slack.ephemerals_for(ENGINEER) or None)
    for _ in range(250):
        stored = await stack.runtime.store.get(request_id)
        if stored is not None and stored.card_ts:
            break
        await asyncio.sleep(0.02)
    keys_before, audit_before = await _keys(redis_server.url), await _audit_length(stack)
    writes_before = len(stack.arm.calls)

    forged = await driver.slash_command(ENGINEER, "ssh web-01 2h forged", secret="not-the-secret")
    stale = await driver.slash_command(ENGINEER, "ssh web-01 2h stale", timestamp=int(time.time()) - 301)
    forged_click = await driver.click(APPROVER_1, card, "jit_approve", request_id, secret="x" * 32)
    stale_click = await driver.click(APPROVER_1, card, "jit_approve", request_id, timestamp=1)
    unsigned = await driver.send({"command": "/jit", "text": "ssh web-01 1h"}, headers={"X-Slack-Signature": ""})

    assert [r.status for r in (forged, stale, forged_click, stale_click, unsigned)] == [401] * 5
    refused = await _refusal_records(stack, audit_before, {"bad_signature", "stale_timestamp", "unsigned"})
    assert await _audit_length(stack) == audit_before + len(refused)
    assert {r.actor for r in refused} == {"unauthenticated"} and all(r.request_id is None for r in refused)
    assert await _keys(redis_server.url) - keys_before == {
        _tally_key(stack, why) for why in ("bad_signature", "stale_timestamp", "unsigned")
    }
    assert len(stack.arm.calls) == writes_before

    audit_before_replays = await _audit_length(stack)
    first = await driver.slash_command(ENGINEER, "status")
    replayed = await driver.replay(first.request)
    assert first.status == 200 and replayed.status == 401
    click = await deny(stack, APPROVER_2, card, request_id)
    await stack.slack.wait_until(lambda: None if stack.slack.message(card.channel, card.ts).buttons() else True)
    for _ in range(250):
        if await stack.runtime.schedule.is_done(f"told:denied:{request_id}"):
            break
        await asyncio.sleep(0.02)
    keys_after_click = await _keys(redis_server.url)
    replayed_click = await driver.replay(click.request)
    assert click.status == 200 and replayed_click.status == 401
    await stack.runtime.scheduler.tick()
    await _refusal_records(stack, audit_before_replays, {"replayed"})
    assert await _keys(redis_server.url) - keys_after_click <= {_tally_key(stack, "replayed")}
    events = [r.event for r in await stack.runtime.audit.for_request(request_id)]
    assert events.count("denied") == 1


def _tally_key(stack: Stack, why: str) -> bytes:
    return stack.runtime.store.keys.refusals(why).encode()


async def _refusal_records(stack: Stack, audit_before: int, reasons: set[str]) -> list[AuditRecord]:
    """The refusals recorded since ``audit_before``, once they name every reason: at most one per reason and minute."""

    async def new_records() -> list[AuditRecord]:
        records = [r async for r in stack.runtime.audit.entries()][audit_before:]
        return [r for r in records if r.event == "request_refused"]

    for _ in range(250):
        records = await new_records()
        if {r.detail.get("why") for r in records} >= reasons:
            break
        await asyncio.sleep(0.02)
    records = await new_records()
    assert {r.detail["why"] for r in records} == reasons
    per_minute = [(r.detail["why"], r.detail["minute"]) for r in records]
    assert len(per_minute) == len(set(per_minute))
    return records


async def test_oversized_bodies_and_text_are_refused_politely(stack: Stack) -> None:
    driver = driver_of(stack)
    huge_text = await driver.slash_command(ENGINEER, "ssh web-01 1h " + "A" * 40_000)
    assert huge_text.acked_in_time and "keep it under" in huge_text.body
    async with aiohttp.ClientSession() as session:
        body = io.BytesIO(b"command=%2Fjit&text=" + b"x" * (2 * 1024 * 1024))
        async with session.post(stack.bot_url, data=body, headers={"Content-Type": FORM}) as giant:
            assert giant.status == 413
    assert (await driver.slash_command(ENGINEER, "help")).status == 200
    assert stack.arm.writes() == []


# -- what users type -----------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(120)
@settings(max_examples=400, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(text=st.one_of(st.text(max_size=60), st.sampled_from(["ssh web-01 1h", "status", "list", "help"])))
async def test_any_text_through_http_gets_a_timely_friendly_answer(stack: Stack, text: str) -> None:
    response = await driver_of(stack).slash_command(ENGINEER, text)

    assert response.acked_in_time, (text, response.status)
    assert APOLOGY not in response.body.lower()
    assert _apologies(stack) == []


@pytest.mark.parametrize(
    "text",
    [
        "ssh wеb-01 1h",  # Cyrillic e
        "ssh web\u200b-01 1h",
        "ssh ../../etc/passwd 1h",
        "ssh web-01; 1h",
        "ssh rg web/web-01 1h",
        "ssh rg\u202e/web-01 1h",
        "ssh a/b/c/d 1h",
        "ssh -web 1h",
        "ssh web. 1h",
        "ssh " + "w" * 65 + " 1h",
        "ssh rg%2Fx/web-01 1h",
        "ssh " + "r" * 91 + "/web-01 1h",
        "ssh <@U0ADMIN001> 1h",
        "ssh $(reboot) 1h",
    ],
)
async def test_names_azure_could_not_hold_never_reach_azure(stack: Stack, text: str) -> None:
    stack.arm.reset_calls()

    response = await driver_of(stack).slash_command(ENGINEER, text)

    assert response.acked_in_time
    await stack.slack.wait_until(lambda: stack.slack.ephemerals_for(ENGINEER) or None)
    shown = " ".join(m.text + str(m.blocks) for m in stack.slack.ephemerals_for(ENGINEER))
    assert "/jit" in shown, "the error shows a corrected example"
    assert [c for c in stack.arm.calls if c.operation != "token"] == []
    assert not [m for m in stack.slack.messages_in(APPROVAL_CHANNEL) if m.buttons()]


@pytest.mark.parametrize(
    ("source", "why"),
    [
        ("10.0.0.1/8", "host bits"),
        ("256.1.1.1", ""),
        ("10.0.0.0/33", ""),
        ("203.0.113.0/1", "host bits"),
        ("*", ""),
        ("any", ""),
    ],
)
async def test_cidr_abuse_is_refused_before_any_card(stack: Stack, source: str, why: str) -> None:
    """Malformed sources are refused by the grammar, whatever the policy allows (web-01's allows ``*``)."""
    response = await driver_of(stack).slash_command(ENGINEER, f"ssh web-01 1h from {source} because")

    assert response.acked_in_time
    reply = await stack.slack.wait_until(lambda: [m for m in stack.slack.ephemerals_for(ENGINEER)] or None, timeout=5)
    text = " ".join(m.text + str(m.blocks) for m in reply).lower()
    assert why in text
    assert APOLOGY not in text
    await _no_card_and_no_write(stack)


@pytest.mark.parametrize("source", ["0.0.0.0/0", "::/0", "2001:db8::1", "2001:db8::/64", "10.0.0.0/7", "198.51.100.7"])
async def test_sources_outside_an_ipv4_policy_are_refused(stack: Stack, source: str) -> None:
    """db-01 allows only 10.0.0.0/8 and 203.0.113.0/24: IPv6 and wider or foreign ranges are refused."""
    await driver_of(stack).slash_command(ENGINEER, f"ssh db-01 1h from {source} because")

    await ephemeral_reply(stack, ENGINEER, "not allowed")
    await _no_card_and_no_write(stack)


async def test_the_whole_internet_only_where_the_policy_allows_any_source_and_flagged(stack: Stack) -> None:
    """The contract: never 0.0.0.0/0 unless the policy allows ``*`` (web-01's does); the card then says so loudly."""
    await driver_of(stack).slash_command(ENGINEER, "ssh web-01 1h from 0.0.0.0/0 vendor demo")

    card = await stack.slack.wait_for_message(APPROVAL_CHANNEL, lambda m: bool(m.buttons()))
    assert "0.0.0.0/0` (any address)" in str(card.blocks)


async def _no_card_and_no_write(stack: Stack) -> None:
    await stack.runtime.scheduler.tick()
    assert not [m for m in stack.slack.messages_in(APPROVAL_CHANNEL) if m.buttons()]
    assert stack.arm.writes() == []
    assert await stack.runtime.store.by_requester(ENGINEER) == []


async def test_mention_link_and_markup_injection_in_the_reason_is_shown_literally(stack: Stack) -> None:
    reason = (
        "<!channel> <!here> <@U0ADMIN001> <#C0GENERAL1> <https://evil.example/login|Approve here> "
        "&lt; *Approved by bob*"
    )
    _, request_id = await request_card(stack, ENGINEER, f"ssh web-01 1h {reason}")

    posted = next(
        c for c in stack.slack.calls_to("chat.postMessage") if c.ok and request_id in str(c.args.get("blocks"))
    )
    blocks = str(posted.args["blocks"]) + str(posted.args.get("text", ""))
    for raw in ("<!channel>", "<!here>", "<@U0ADMIN001>", "<#C0GENERAL1>", "<https://evil.example"):
        assert raw not in blocks, raw
    assert "&lt;!channel&gt;" in blocks and "&lt;https://evil.example/login|Approve here&gt;" in blocks
    assert "&amp;lt;" in blocks
    confirmation = await ephemeral_reply(stack, ENGINEER, request_id)
    assert "<!channel>" not in confirmation


async def test_the_word_payload_in_a_command_reaches_the_bot(stack: Stack) -> None:
    """Bolt reads any form body containing "payload" as an interactive payload; jitbot must not lose it."""
    refused = await driver_of(stack).slash_command(ENGINEER, "payload")
    assert refused.status == 200 and "payload" in refused.body

    _, request_id = await request_card(stack, ENGINEER, "ssh web-01 1h fixing the payload parser")

    request = await stack.runtime.store.require(request_id)
    assert request.reason == "fixing the payload parser"


# -- clicks ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["jr-forged-value", "", "<!channel>", "x" * 3000, "jr-\u202eevil", '{"id": "jr-1"}', "../jr-1"],
)
async def test_tampered_button_values_are_refused_and_audited(stack: Stack, value: str) -> None:
    card, request_id = await request_card(stack, ENGINEER, "ssh web-01 1h tamper target")
    stack.arm.reset_calls()

    response = await driver_of(stack).click(APPROVER_1, card, "jit_approve", value)

    assert response.acked_in_time
    await ephemeral_reply(stack, APPROVER_1, "unknown")
    request = await stack.runtime.store.get(request_id)
    assert request is not None and request.state is RequestState.PENDING
    assert stack.arm.writes() == []
    refused = [r async for r in stack.runtime.audit.entries() if r.event == "unknown_request_click"]
    assert refused and all(len(r.detail.get("value", "")) <= 64 for r in refused)
    assert _apologies(stack) == []


async def test_a_non_approver_cannot_approve_by_forging_the_click_for_another_request(stack: Stack) -> None:
    card_a, request_a = await request_card(stack, ENGINEER, "ssh web-01 1h first")
    _, request_b = await request_card(stack, APPROVER_2, "ssh web-01 1h second")

    await driver_of(stack).click(ONCALL, card_a, "jit_approve", request_b)
    await driver_of(stack).click(APPROVER_2, card_a, "jit_approve", request_b)

    await ephemeral_reply(stack, ONCALL, "not one of the approvers")
    await ephemeral_reply(stack, APPROVER_2, "own request")
    for request_id in (request_a, request_b):
        request = await stack.runtime.store.get(request_id)
        assert request is not None and request.state is RequestState.PENDING
    assert stack.arm.writes() == []
