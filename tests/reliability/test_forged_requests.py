"""Forged requests through the real HTTP endpoint: malformed headers are a plain 401 with one short log line, and
refusals reach the audit trail in aggregate, so anonymous traffic cannot grow Redis without bound."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

import aiohttp
import pytest
import redis.asyncio as aioredis

from jit.clock import ManualClock
from jit.store.audit import AuditRecord
from jit.store.refusals import RefusalTally
from sandbox.redis_server import RedisServer
from sandbox.slack_driver import sign
from sandbox.slack_workspace import ENGINEER
from sandbox.stack import Stack, StackOptions
from tests.e2e.flow import driver_of

BODY = b"command=%2Fjit&text=status&user_id=U0ENGINE01"


@pytest.fixture
async def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def stack(redis_server: RedisServer, clock: ManualClock) -> AsyncIterator[Stack]:
    async with Stack(StackOptions(redis_url=redis_server.url, clock=clock)) as running:
        yield running


async def _post(stack: Stack, headers: dict[str, str]) -> tuple[int, str]:
    form = {"Content-Type": "application/x-www-form-urlencoded", **headers}
    async with aiohttp.ClientSession() as session, session.post(stack.bot_url, data=BODY, headers=form) as response:
        return response.status, await response.text()


def _valid(stack: Stack, timestamp: str) -> str:
    return sign(stack.signing_secret, timestamp, BODY)


async def test_a_missing_or_malformed_timestamp_is_a_401_with_one_short_log_line(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    now = str(int(time.time()))
    forgeries = {
        "no timestamp header": {"X-Slack-Signature": _valid(stack, now)},
        "empty timestamp": {"X-Slack-Request-Timestamp": "", "X-Slack-Signature": _valid(stack, "")},
        "words": {"X-Slack-Request-Timestamp": "yesterday", "X-Slack-Signature": _valid(stack, "yesterday")},
        "fraction": {"X-Slack-Request-Timestamp": f"{now}.5", "X-Slack-Signature": _valid(stack, f"{now}.5")},
        "arabic-indic digits": {"X-Slack-Request-Timestamp": "١٢٣", "X-Slack-Signature": _valid(stack, "١٢٣")},
        "huge number": {"X-Slack-Request-Timestamp": "9" * 400, "X-Slack-Signature": _valid(stack, "9" * 400)},
        "non-ascii signature": {"X-Slack-Request-Timestamp": now, "X-Slack-Signature": "v0=\u00e9t\u00e9"},
    }
    caplog.set_level(logging.INFO)

    for what, headers in forgeries.items():
        caplog.clear()
        status, body = await _post(stack, headers)

        assert (status, body) == (401, '{"error": "invalid request"}'), what
        refused = [r for r in caplog.records if r.getMessage() == "slack.request_refused"]
        assert len(refused) == 1, what
        assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR], what


async def test_a_flood_of_forged_requests_adds_one_audit_record_per_reason_and_minute(
    stack: Stack, clock: ManualClock, redis_server: RedisServer
) -> None:
    driver = driver_of(stack)
    tally = RefusalTally(stack.runtime.redis, clock, prefix=stack.runtime.store.keys.prefix)
    keys_before, audit_before = await _keys(redis_server), await stack.runtime.audit.length()

    answers = await asyncio.gather(
        *(driver.slash_command(ENGINEER, f"ssh web-01 1h forged {i}", secret="guessed") for i in range(200))
    )

    assert {a.status for a in answers} == {401}
    await _wait_for(lambda: _counted(tally, "bad_signature", 200))
    keys = stack.runtime.store.keys
    assert await _keys(redis_server) - keys_before == {keys.refusals("bad_signature").encode(), keys.audit.encode()}
    first = await _new_records(stack, audit_before)
    assert [(r.event, r.actor, r.detail["why"], r.detail["peer"]) for r in first] == [
        ("request_refused", "unauthenticated", "bad_signature", "127.0.0.1")
    ]
    assert "guessed" not in str(first[0].to_json()) and "v0=" not in str(first[0].to_json())

    clock.advance(timedelta(minutes=1))
    later = await driver.slash_command(ENGINEER, "ssh web-01 1h next minute", secret="guessed")

    assert later.status == 401
    await _wait_for(lambda: _counted(tally, "bad_signature", 1))
    second = (await _new_records(stack, audit_before))[1:]
    assert [(r.detail["minute"], r.detail["previous_minute"], r.detail["previous_minute_count"]) for r in second] == [
        ("2026-12-01T09:01:00+00:00", "2026-12-01T09:00:00+00:00", "200")
    ]


async def _counted(tally: RefusalTally, why: str, expected: int) -> bool:
    return (await tally.current(why))[1] == expected


async def _wait_for(condition: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await condition():
        assert asyncio.get_running_loop().time() < deadline, "the tally never got there"
        await asyncio.sleep(0.02)


async def _new_records(stack: Stack, before: int) -> list[AuditRecord]:
    return [r async for r in stack.runtime.audit.entries()][before:]


async def _keys(redis_server: RedisServer) -> set[bytes]:
    client = aioredis.Redis.from_url(redis_server.url)
    try:
        return {key async for key in client.scan_iter(count=1000) if b":schedule" not in key}
    finally:
        await client.aclose()
