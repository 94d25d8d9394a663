"""Posting the access review through slack_sdk's real client to the Slack emulator: summary, then chart and CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator

import aiohttp
import pytest
from PIL import Image
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.review import review_summary
from bot.review_chart import HEIGHT_PX, WIDTH_PX
from bot.review_files import CSV_COLUMNS, grants_csv
from bot.review_post import CHART_TITLE, CSV_TITLE, post_review
from sandbox.slack import SlackEmulator
from sandbox.slack_workspace import APPROVAL_CHANNEL, ENGINEER, GENERAL_CHANNEL, Workspace, demo_workspace
from tests.jit.review_support import ALICE, week_review


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as http:
        yield http


async def emulator_and_client(
    workspace: Workspace, session: aiohttp.ClientSession
) -> tuple[SlackEmulator, AsyncWebClient]:
    slack = await SlackEmulator(workspace).start()
    return slack, AsyncWebClient(token=workspace.token, base_url=slack.api_url, session=session)


@pytest.fixture
async def slack(session: aiohttp.ClientSession) -> AsyncIterator[tuple[SlackEmulator, AsyncWebClient]]:
    """The emulator with the app installed from the manifest (which grants files:write) and a client for it."""
    slack, client = await emulator_and_client(demo_workspace(), session)
    yield slack, client
    await slack.stop()


async def test_the_summary_is_posted_and_the_chart_and_csv_follow_in_its_thread(
    slack: tuple[SlackEmulator, AsyncWebClient],
) -> None:
    emulator, client = slack
    review = week_review()
    posted = await post_review(client, APPROVAL_CHANNEL, review, names={ALICE: "Alice Engineer"})

    summary, files = emulator.messages_in(APPROVAL_CHANNEL)
    expected = review_summary(review, names={ALICE: "Alice Engineer"}, files_in_thread=True)
    assert (summary.ts, summary.text, summary.thread_ts) == (posted.ts, expected.text, None)
    assert [b["type"] for b in summary.blocks] == [b["type"] for b in expected.blocks]
    assert files.thread_ts == posted.ts
    assert [f["title"] for f in files.files] == [CHART_TITLE, CSV_TITLE]
    assert posted.files_error is None

    chart, rows = emulator.files_in(APPROVAL_CHANNEL)
    assert posted.file_ids == (chart.id, rows.id)
    assert (chart.filename, rows.filename) == (
        "jit-access-review-2025-03-03-to-2025-03-09.png",
        "jit-access-review-2025-03-03-to-2025-03-09.csv",
    )
    assert chart.data is not None
    assert rows.data is not None
    image = Image.open(io.BytesIO(chart.data))
    image.verify()
    assert (image.format, image.size) == ("PNG", (WIDTH_PX, HEIGHT_PX))
    assert rows.data == grants_csv(review)
    parsed = list(csv.reader(io.StringIO(rows.data.decode("utf-8"), newline="")))
    assert tuple(parsed[0]) == CSV_COLUMNS
    assert [row[0] for row in parsed[1:]] == [grant.request_id for grant in review.grants]
    assert [c.args.get("alt_txt") for c in emulator.calls_to("files.getUploadURLExternal")] == [None, None]


async def test_a_review_asked_for_by_user_id_goes_to_their_dm(slack: tuple[SlackEmulator, AsyncWebClient]) -> None:
    emulator, client = slack
    posted = await post_review(client, ENGINEER, week_review())
    assert posted.channel == emulator.dm_channel_id(ENGINEER)
    assert [f.filetype for f in emulator.files_in(ENGINEER)] == ["png", "csv"]


async def test_without_files_write_the_summary_stays_and_the_thread_says_what_to_fix(
    session: aiohttp.ClientSession,
) -> None:
    workspace = demo_workspace()
    workspace.scopes.remove("files:write")
    emulator, client = await emulator_and_client(workspace, session)
    try:
        posted = await post_review(client, APPROVAL_CHANNEL, week_review())
        summary, notice = emulator.messages_in(APPROVAL_CHANNEL)
        assert posted.files_error == "missing_scope"
        assert posted.file_ids == ()
        assert summary.ts == posted.ts
        assert notice.thread_ts == posted.ts
        assert "`files:write`" in notice.text
        assert "reinstall the app" in notice.text
        assert emulator.files_in(APPROVAL_CHANNEL) == []
    finally:
        await emulator.stop()


async def test_an_upload_server_failure_is_reported_in_the_thread(slack: tuple[SlackEmulator, AsyncWebClient]) -> None:
    emulator, client = slack
    emulator.faults.add("upload_url", status=503)
    posted = await post_review(client, APPROVAL_CHANNEL, week_review())
    assert posted.files_error == "upload_failed"
    notice = emulator.messages_in(APPROVAL_CHANNEL)[-1]
    assert notice.thread_ts == posted.ts
    assert "`upload_failed`" in notice.text
    assert emulator.calls_to("files.completeUploadExternal") == []


async def test_when_the_summary_cannot_be_posted_nothing_is_uploaded(
    slack: tuple[SlackEmulator, AsyncWebClient],
) -> None:
    emulator, client = slack
    with pytest.raises(SlackApiError) as refused:
        await post_review(client, GENERAL_CHANNEL, week_review())
    assert refused.value.response["error"] == "not_in_channel"
    assert emulator.calls_to("files.getUploadURLExternal") == []


async def test_a_channel_the_bot_may_post_in_but_is_not_a_member_of_asks_for_an_invite(
    session: aiohttp.ClientSession,
) -> None:
    workspace = demo_workspace()
    workspace.scopes.append("chat:write.public")
    emulator, client = await emulator_and_client(workspace, session)
    try:
        posted = await post_review(client, GENERAL_CHANNEL, week_review())
        assert posted.files_error == "not_in_channel"
        assert "invite jitbot to this channel" in emulator.messages_in(GENERAL_CHANNEL)[-1].text
    finally:
        await emulator.stop()
