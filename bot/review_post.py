"""Posting an access review to Slack: the summary message, then the chart and the CSV in its thread.

The files go up through slack_sdk's ``files_upload_v2`` (``files.getUploadURLExternal``, the upload URL,
``files.completeUploadExternal``; scope ``files:write``) as replies to the summary, so the channel shows one
message per review. No ``alt_txt`` is sent: with it Slack has been seen to complete the upload without sharing
the file (slackapi/python-slack-sdk#1818), so the chart's title says what it shows instead. When the upload
fails, the summary stays and a reply in its thread says why and what to do.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.review import review_summary, upload_failed_notice
from bot.review_chart import open_hours_chart
from bot.review_files import file_stem, grants_csv
from jit.review import AccessReview

log = logging.getLogger(__name__)

CHART_TITLE = "Open hours per day, stacked by VM"
CSV_TITLE = "Grants: one row each"
UPLOAD_FAILED = "upload_failed"


@dataclass(frozen=True)
class PostedReview:
    """Where the review went: the summary's channel and ``ts``, the shared file ids, and why files are missing."""

    channel: str
    ts: str
    file_ids: tuple[str, ...] = ()
    files_error: str | None = None


async def post_review(
    client: AsyncWebClient, channel: str, review: AccessReview, *, names: Mapping[str, str] | None = None
) -> PostedReview:
    """Post ``review`` to ``channel`` (a channel id, or a user id for their DM) with its chart and CSV.

    ``names`` maps Slack user ids to the display names the summary shows. Raises SlackApiError when the summary
    itself cannot be posted; a failed upload is reported in the summary's thread and in ``files_error``.
    """
    summary = review_summary(review, names=names or {}, files_in_thread=True)
    posted = await client.chat_postMessage(channel=channel, **summary.as_kwargs())
    channel_id, ts = str(posted["channel"]), str(posted["ts"])
    stem = file_stem(review.period)
    chart = await asyncio.to_thread(open_hours_chart, review)
    try:
        uploaded = await client.files_upload_v2(
            channel=channel_id,
            thread_ts=ts,
            file_uploads=[
                {"content": chart, "filename": f"{stem}.png", "title": CHART_TITLE},
                {"content": grants_csv(review), "filename": f"{stem}.csv", "title": CSV_TITLE},
            ],
        )
    except (SlackApiError, SlackRequestError) as failure:
        error = (
            str(failure.response.get("error", UPLOAD_FAILED)) if isinstance(failure, SlackApiError) else UPLOAD_FAILED
        )
        log.warning("review.files_not_attached", extra={"channel": channel_id, "error": error})
        await client.chat_postMessage(channel=channel_id, thread_ts=ts, **upload_failed_notice(error).as_kwargs())
        return PostedReview(channel_id, ts, files_error=error)
    shared: list[dict[str, object]] = uploaded.get("files") or []
    file_ids = tuple(str(f["id"]) for f in shared)
    log.info("review.posted", extra={"channel": channel_id, "grants": len(review.grants), "files": len(file_ids)})
    return PostedReview(channel_id, ts, file_ids)
