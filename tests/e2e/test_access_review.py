"""The access review through the real bot: ``/jit report`` by signed HTTP answered with a DM carrying the summary,
the chart and the CSV (Slack's files upload flow on the emulator), refused for people who are not approvers or
admins; and the weekly post, run by two ``jitbot serve`` replicas sharing Redis, posted exactly once."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from PIL import Image

from jit.clock import ManualClock
from jit.model import RequestState
from jit.reporting import next_weekly_post
from jit.schedule_items import Routine
from jit.store.schedule import Schedule
from sandbox.redis_server import RedisServer
from sandbox.slack import SlackEmulator
from sandbox.slack_state import Message
from sandbox.slack_workspace import APPROVER_1, APPROVER_2, ENGINEER, ONCALL_CHANNEL
from sandbox.stack import Stack, StackOptions
from tests.e2e.flow import deny, dm_to, driver_of, ephemeral_reply, request_card, wait_card_decided
from tests.e2e.lifecycle_support import poll
from tests.reliability.world import KEY_PREFIX, World

REVIEW_TITLE = "JIT access review"


@pytest.fixture
async def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def timed_stack(redis_server: RedisServer, clock: ManualClock) -> AsyncIterator[Stack]:
    async with Stack(StackOptions(redis_url=redis_server.url, clock=clock, expire_interval=0.1)) as running:
        yield running


async def _files_in_thread(slack: SlackEmulator, channel: str, summary: Message) -> list[dict[str, Any]]:
    def shared() -> list[dict[str, Any]] | None:
        for message in slack.messages_in(channel):
            if message.thread_ts == summary.ts and message.files:
                return message.files
        return None

    return await slack.wait_until(shared, timeout=30)


def _file_bytes(slack: SlackEmulator, file: dict[str, Any]) -> bytes:
    stored = slack.state.files.get(str(file["id"]))
    assert stored is not None and stored.completed and stored.data is not None
    return stored.data


async def test_an_approver_gets_the_review_by_dm_with_chart_and_csv(timed_stack: Stack, clock: ManualClock) -> None:
    driver = driver_of(timed_stack)
    denied_card, denied = await request_card(timed_stack, ENGINEER, "ssh web-01 30m just looking")
    await deny(timed_stack, APPROVER_2, denied_card, denied)
    await wait_card_decided(timed_stack, denied_card)
    card, granted = await request_card(timed_stack, ENGINEER, "ssh web-01 1h deploy")
    await driver.click(APPROVER_1, card, "jit_approve", granted)
    await wait_card_decided(timed_stack, card)
    clock.advance(timedelta(minutes=61))
    timed_stack.runtime.scheduler.wake()

    async def expired() -> bool:
        request = await timed_stack.runtime.store.get(granted)
        return request is not None and request.state is RequestState.EXPIRED

    await poll(expired, "the grant expiring", timeout=15)

    response = await driver.slash_command(APPROVER_1, "report")

    assert response.status == 200
    await ephemeral_reply(timed_stack, APPROVER_1, "in your direct messages", timeout=30)
    summary_text = await dm_to(timed_stack, APPROVER_1, REVIEW_TITLE, timeout=30)
    assert "1 grant" in summary_text and "1 h" in summary_text and "1 denied" in summary_text
    dm = timed_stack.slack.state.dm_channel(APPROVER_1)
    assert dm is not None
    [summary] = [m for m in timed_stack.slack.messages_in(dm) if REVIEW_TITLE in m.text]
    chart, rows = await _files_in_thread(timed_stack.slack, dm, summary)
    assert (chart["filetype"], rows["filetype"]) == ("png", "csv")
    image = Image.open(io.BytesIO(_file_bytes(timed_stack.slack, chart)))
    assert image.format == "PNG" and image.size == (1200, 600)
    [header, row] = list(csv.reader(io.StringIO(_file_bytes(timed_stack.slack, rows).decode("utf-8"), newline="")))
    grant = dict(zip(header, row, strict=True))
    assert (grant["request id"], grant["requester"], grant["VM"], grant["ports"]) == (granted, ENGINEER, "web-01", "22")
    assert (grant["approved by"], grant["hours"], grant["state"]) == (APPROVER_1, "1.00", "expired")
    sent = [r async for r in timed_stack.runtime.audit.entries() if r.event == "report_sent"]
    assert [(r.actor, r.detail["posted_to"], r.detail["grants"]) for r in sent] == [(APPROVER_1, APPROVER_1, "1")]


async def test_someone_who_is_not_an_approver_is_refused_and_audited(timed_stack: Stack) -> None:
    response = await driver_of(timed_stack).slash_command(ENGINEER, "report 30d")

    assert response.status == 200
    await ephemeral_reply(timed_stack, ENGINEER, "only approvers and jitbot admins", timeout=15)
    assert not any(REVIEW_TITLE in m.text for m in timed_stack.slack.dms_with(ENGINEER))
    refused = [r async for r in timed_stack.runtime.audit.entries() if r.event == "report_refused"]
    assert [(r.actor, dict(r.detail)) for r in refused] == [(ENGINEER, {"days": "30"})]


@pytest.fixture
async def replicas() -> AsyncIterator[World]:
    async with World(bots=2, env={"JITBOT_REVIEW_CHANNEL": ONCALL_CHANNEL}) as running:
        yield running


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_two_replicas_post_the_weekly_review_once(replicas: World) -> None:
    assert replicas.redis is not None
    schedule = Schedule(replicas.redis, prefix=KEY_PREFIX)
    due = next_weekly_post(replicas.clock.now())
    assert await schedule.due_at(Routine.WEEKLY_REVIEW.value) == due

    replicas.advance(due - replicas.clock.now() + timedelta(seconds=1))

    def summaries() -> list[Message]:
        return [m for m in replicas.slack.messages_in(ONCALL_CHANNEL) if REVIEW_TITLE in m.text]

    [summary] = await replicas.slack.wait_until(summaries, timeout=60)
    files = await _files_in_thread(replicas.slack, ONCALL_CHANNEL, summary)
    assert [f["filetype"] for f in files] == ["png", "csv"]

    async def rescheduled() -> bool:
        return await schedule.due_at(Routine.WEEKLY_REVIEW.value) == due + timedelta(days=7)

    await poll(rescheduled, "the next weekly review being scheduled", timeout=30)
    assert len(summaries()) == 1, replicas.logs()
    sent = [r async for r in replicas.audit().entries() if r.event == "report_sent"]
    assert [(r.actor, r.detail["posted_to"]) for r in sent] == [("jitbot", ONCALL_CHANNEL)]
