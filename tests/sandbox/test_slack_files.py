"""Slack's file upload flow in the emulator, driven by slack_sdk's real AsyncWebClient over loopback HTTP."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient

from sandbox.slack import SlackEmulator
from sandbox.slack_workspace import (
    APPROVAL_CHANNEL,
    ENGINEER,
    GENERAL_CHANNEL,
    ONCALL_CHANNEL,
    Channel,
    Workspace,
)
from tests.sandbox.conftest import broad_workspace

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
CSV = "request id,requester\njr-1,U0ENGINE01\n"
SECRET_CHANNEL = "C0SECRET01"


def files_workspace(*extra_scopes: str) -> Workspace:
    """The demo workspace whose app may upload files, plus a private channel the bot was never invited to."""
    workspace = broad_workspace()
    workspace.scopes[:] = sorted({*workspace.scopes, "files:write", *extra_scopes})
    workspace.channels.append(Channel(SECRET_CHANNEL, "secret", [ENGINEER], bot_is_member=False, is_private=True))
    return workspace


@pytest.fixture
async def slack() -> AsyncIterator[SlackEmulator]:
    """The emulator with an app that holds ``files:write``."""
    async with SlackEmulator(files_workspace()) as emulator:
        yield emulator


async def api_error(call: Any) -> dict[str, Any]:
    with pytest.raises(SlackApiError) as caught:
        await call
    body: dict[str, Any] = caught.value.response.data
    return body


async def reserve(client: AsyncWebClient, data: bytes, filename: str = "chart.png") -> tuple[str, str]:
    """Step 1: a file id and upload URL for ``data``."""
    answer = await client.files_getUploadURLExternal(filename=filename, length=len(data))
    return str(answer["file_id"]), str(answer["upload_url"])


async def upload(session: aiohttp.ClientSession, url: str, data: bytes) -> tuple[int, str]:
    """Step 2: POST the bytes as Slack's upload server takes them."""
    async with session.post(url, data=data) as response:
        return response.status, await response.text()


# -- the whole flow ----------------------------------------------------------------------------------


async def test_files_upload_v2_shares_a_png_and_a_csv_in_the_channel(
    slack: SlackEmulator, client: AsyncWebClient
) -> None:
    answer = await client.files_upload_v2(
        channel=APPROVAL_CHANNEL,
        file_uploads=[
            {"content": PNG, "filename": "open-hours.png", "title": "Open hours per day"},
            {"content": CSV, "filename": "grants.csv"},
        ],
        initial_comment="Weekly access review",
    )
    assert [f["title"] for f in answer["files"]] == ["Open hours per day", "grants.csv"]
    assert [c.method for c in slack.calls] == [
        "files.getUploadURLExternal",
        "files.getUploadURLExternal",
        "upload_url",
        "upload_url",
        "files.completeUploadExternal",
    ]
    chart, rows = slack.files_in(APPROVAL_CHANNEL)
    assert (chart.filename, chart.data, chart.mimetype, chart.title) == (
        "open-hours.png",
        PNG,
        "image/png",
        "Open hours per day",
    )
    assert rows.data is not None
    assert rows.data.decode() == CSV
    assert rows.mimetype == "text/csv"
    [message] = slack.messages_in(APPROVAL_CHANNEL)
    shown = message.to_api(slack.workspace)
    assert shown["text"] == "Weekly access review"
    assert shown["upload"] is True
    assert [(f["id"], f["name"], f["size"], f["filetype"]) for f in shown["files"]] == [
        (chart.id, "open-hours.png", len(PNG), "png"),
        (rows.id, "grants.csv", len(CSV), "csv"),
    ]
    assert all(f["user"] == slack.workspace.bot.user_id for f in shown["files"])
    assert "ts" not in answer.data, "like Slack, completing an upload does not name the share message"


async def test_files_can_be_shared_in_a_thread_and_in_a_dm(slack: SlackEmulator, client: AsyncWebClient) -> None:
    parent = await client.chat_postMessage(channel=APPROVAL_CHANNEL, text="Weekly access review")
    await client.files_upload_v2(
        channel=APPROVAL_CHANNEL, thread_ts=parent["ts"], content=CSV, filename="grants.csv", title="Raw rows"
    )
    reply = slack.messages_in(APPROVAL_CHANNEL)[-1]
    assert reply.thread_ts == parent["ts"]
    assert [f["title"] for f in reply.files] == ["Raw rows"]

    await client.files_upload_v2(channels=[ENGINEER], content=CSV, filename="mine.csv")
    [shared] = slack.files_in(ENGINEER)
    assert shared.filename == "mine.csv"
    assert slack.dms_with(ENGINEER)[-1].files[0]["id"] == shared.id


async def test_without_a_channel_the_file_stays_private(slack: SlackEmulator, client: AsyncWebClient) -> None:
    answer = await client.files_upload_v2(content=CSV, filename="grants.csv")
    stored = slack.uploaded(answer["files"][0]["id"])
    assert stored.completed
    assert stored.channels == []
    assert slack.state.all_messages() == []


async def test_multipart_uploads_are_taken_too(
    slack: SlackEmulator, client: AsyncWebClient, session: aiohttp.ClientSession
) -> None:
    file_id, url = await reserve(client, PNG)
    form = aiohttp.FormData()
    form.add_field("filename", PNG, filename="chart.png", content_type="image/png")
    async with session.post(url, data=form) as response:
        assert (response.status, await response.text()) == (200, f"OK - {len(PNG)}")
    await client.files_completeUploadExternal(files=[{"id": file_id}], channel_id=APPROVAL_CHANNEL)
    assert slack.uploaded(file_id).data == PNG
    assert slack.uploaded(file_id).title == "chart.png", "the title defaults to the file name"


async def test_initial_comment_wins_over_blocks_and_blocks_are_checked(
    slack: SlackEmulator, client: AsyncWebClient, session: aiohttp.ClientSession
) -> None:
    section = {"type": "section", "text": {"type": "mrkdwn", "text": "*Review*"}}
    for comment, expected_text, expected_blocks in (("Plain words", "Plain words", 0), (None, "", 1)):
        file_id, url = await reserve(client, PNG)
        await upload(session, url, PNG)
        await client.files_completeUploadExternal(
            files=[{"id": file_id}], channel_id=APPROVAL_CHANNEL, initial_comment=comment, blocks=json.dumps([section])
        )
        message = slack.messages_in(APPROVAL_CHANNEL)[-1]
        assert (message.text, len(message.blocks)) == (expected_text, expected_blocks)

    file_id, url = await reserve(client, PNG)
    await upload(session, url, PNG)
    error = await api_error(
        client.files_completeUploadExternal(
            files=[{"id": file_id}], channel_id=APPROVAL_CHANNEL, blocks=json.dumps([{"type": "nonsense"}])
        )
    )
    assert error["error"] == "invalid_blocks"
    assert not slack.uploaded(file_id).completed, "a refused completion completes nothing"


# -- files.getUploadURLExternal errors ---------------------------------------------------------------


async def test_uploading_needs_files_write(session: aiohttp.ClientSession) -> None:
    workspace = files_workspace()
    workspace.scopes.remove("files:write")
    async with SlackEmulator(workspace) as slack:
        client = AsyncWebClient(token=workspace.token, base_url=slack.api_url, session=session)
        for call in (
            client.files_getUploadURLExternal(filename="a.csv", length=3),
            client.files_completeUploadExternal(files=[{"id": "F0000000001"}], channel_id=APPROVAL_CHANNEL),
        ):
            error = await api_error(call)
            assert (error["error"], error["needed"]) == ("missing_scope", "files:write")
            assert "files:write" not in error["provided"].split(",")
        assert slack.calls[0].status == 200


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"filename": "a.csv", "length": 0}, "missing_argument", None),
        ({"filename": "a.csv", "length": "three"}, "invalid_arguments", "must be an integer"),
        ({"filename": "a.csv", "length": -4}, "invalid_arguments", "positive"),
        ({"filename": "a.csv"}, "invalid_arguments", "missing required field: length"),
        ({"length": 3}, "invalid_arguments", "missing required field: filename"),
        ({"filename": "a.png", "length": 3, "alt_txt": "x" * 1001}, "alt_txt_too_large", None),
        ({"filename": "a.py", "length": 2_000_000, "snippet_type": "python"}, "snippet_too_large", None),
    ],
)
async def test_reserving_an_upload_checks_its_arguments(
    client: AsyncWebClient, arguments: dict[str, Any], error: str, message: str | None
) -> None:
    body = await api_error(client.api_call("files.getUploadURLExternal", params=arguments))
    assert body["error"] == error
    if message is not None:
        assert message in body["response_metadata"]["messages"][0]


async def test_alt_text_within_the_limit_is_kept_on_the_file(slack: SlackEmulator, client: AsyncWebClient) -> None:
    await client.files_upload_v2(channel=APPROVAL_CHANNEL, content=PNG, filename="c.png", alt_txt="x" * 1000)
    assert slack.messages_in(APPROVAL_CHANNEL)[-1].files[0]["alt_txt"] == "x" * 1000


# -- the upload URL ----------------------------------------------------------------------------------


async def test_the_upload_url_takes_exactly_the_declared_length_once(
    slack: SlackEmulator, client: AsyncWebClient, session: aiohttp.ClientSession
) -> None:
    file_id, url = await reserve(client, PNG)
    status, text = await upload(session, url, PNG[:-1])
    assert status == 400
    assert f"declared {len(PNG)}" in text
    error = await api_error(client.files_completeUploadExternal(files=[{"id": file_id}], channel_id=APPROVAL_CHANNEL))
    assert error["error"] == "file_not_found", "nothing was uploaded yet"

    assert await upload(session, url, PNG) == (200, f"OK - {len(PNG)}")
    await client.files_completeUploadExternal(files=[{"id": file_id}], channel_id=APPROVAL_CHANNEL)
    status, _ = await upload(session, url, PNG)
    assert status == 404, "a completed upload's URL takes nothing more"
    assert (await upload(session, slack.base_url + "/upload/v1/not-a-ticket", PNG))[0] == 404


async def test_an_upload_expires_when_it_is_not_completed_in_time(
    slack: SlackEmulator, client: AsyncWebClient, session: aiohttp.ClientSession
) -> None:
    late_id, late_url = await reserve(client, PNG)
    slack.uploaded(late_id).issued -= slack.state.files.upload_ttl + 1
    status, text = await upload(session, late_url, PNG)
    assert (status, "expired" in text) == (404, True)

    file_id, url = await reserve(client, PNG)
    await upload(session, url, PNG)
    slack.uploaded(file_id).issued -= slack.state.files.upload_ttl + 1
    error = await api_error(client.files_completeUploadExternal(files=[{"id": file_id}], channel_id=APPROVAL_CHANNEL))
    assert error["error"] == "file_not_found"
    assert slack.messages_in(APPROVAL_CHANNEL) == []


async def test_a_failing_upload_server_fails_files_upload_v2(slack: SlackEmulator, client: AsyncWebClient) -> None:
    slack.faults.add("upload_url", status=503)
    with pytest.raises(SlackRequestError, match="status: 503"):
        await client.files_upload_v2(channel=APPROVAL_CHANNEL, content=CSV, filename="grants.csv")
    assert slack.calls_to("files.completeUploadExternal") == []
    assert slack.messages_in(APPROVAL_CHANNEL) == []


# -- files.completeUploadExternal errors -------------------------------------------------------------


async def test_completing_refuses_unknown_unsent_and_completed_uploads(
    slack: SlackEmulator, client: AsyncWebClient, session: aiohttp.ClientSession
) -> None:
    unsent_id, _ = await reserve(client, PNG)
    done_id, url = await reserve(client, PNG)
    await upload(session, url, PNG)
    await client.files_completeUploadExternal(files=[{"id": done_id}], channel_id=APPROVAL_CHANNEL)
    for file_id in ("F0NOSUCHFILE", unsent_id, done_id):
        error = await api_error(
            client.files_completeUploadExternal(files=[{"id": file_id}], channel_id=APPROVAL_CHANNEL)
        )
        assert error["error"] == "file_not_found"
    assert len(slack.messages_in(APPROVAL_CHANNEL)) == 1


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (None, "missing required field: files"),
        ("not json", None),
        ("[]", "non-empty JSON array"),
        ('[{"title": "no id"}]', "needs an `id`"),
    ],
)
async def test_completing_needs_a_list_of_file_ids(client: AsyncWebClient, files: str | None, message: str) -> None:
    params = {"channel_id": APPROVAL_CHANNEL} | ({"files": files} if files is not None else {})
    body = await api_error(client.api_call("files.completeUploadExternal", params=params))
    assert body["error"] == "invalid_arguments"
    if message is not None:
        assert message in body["response_metadata"]["messages"][0]


@pytest.mark.parametrize(
    ("destination", "error"),
    [
        ({"channel_id": "C0NOWHERE1"}, "channel_not_found"),
        ({"channel_id": SECRET_CHANNEL}, "channel_not_found"),
        ({"channel_id": GENERAL_CHANNEL}, "not_in_channel"),
        ({"channels": ",".join(f"C{n:09d}" for n in range(101))}, "channels_limit_exceeded"),
        ({"channels": f"{APPROVAL_CHANNEL},{ONCALL_CHANNEL}", "thread_ts": "1700000000.000100"}, "invalid_arguments"),
    ],
)
async def test_completing_shares_only_where_the_bot_may_post(
    slack: SlackEmulator,
    client: AsyncWebClient,
    session: aiohttp.ClientSession,
    destination: dict[str, str],
    error: str,
) -> None:
    file_id, url = await reserve(client, PNG)
    await upload(session, url, PNG)
    body = await api_error(
        client.api_call("files.completeUploadExternal", params={"files": json.dumps([{"id": file_id}]), **destination})
    )
    assert body["error"] == error
    assert not slack.uploaded(file_id).completed
    assert slack.state.all_messages() == []


# -- reading a shared file back ----------------------------------------------------------------------


async def test_url_private_serves_the_bytes_to_a_token_with_files_read(session: aiohttp.ClientSession) -> None:
    for scopes, expected in (((), 403), (("files:read",), 200)):
        workspace = files_workspace(*scopes)
        async with SlackEmulator(workspace) as slack:
            client = AsyncWebClient(token=workspace.token, base_url=slack.api_url, session=session)
            await client.files_upload_v2(channel=APPROVAL_CHANNEL, content=PNG, filename="chart.png")
            url = slack.messages_in(APPROVAL_CHANNEL)[-1].files[0]["url_private"]
            headers = {"Authorization": f"Bearer {workspace.token}"}
            async with session.get(url, headers=headers) as response:
                assert response.status == expected
                if expected == 200:
                    assert (await response.read(), response.content_type) == (PNG, "image/png")
            async with session.get(url) as anonymous:
                assert anonymous.status == 403
