"""Posting an access review to Slack: the summary message, then the chart and the CSV in its thread.

The files go up through slack_sdk's ``files_upload_v2`` (``files.getUploadURLExternal``, the upload URL,
``files.completeUploadExternal``; scope ``files:write``) as replies to the summary, so the channel shows one
message per review. No ``alt_txt`` is sent: with it Slack has been seen to complete the upload without sharing
the file (slackapi/python-slack-sdk#1818), so the chart's title says what it shows instead. When the upload
fails, the summary stays and a reply in its thread says why and what to do.

``SlackReviewPoster`` is the domain's ``ReviewPoster``: it looks up the display names of the people a review
names (``users.info``, scope ``users:read``; at most ``MAX_NAME_LOOKUPS``, a failed lookup shows the id) and posts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

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
MAX_NAME_LOOKUPS = 50


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


def people_named(review: AccessReview) -> list[str]:
    """The Slack user ids the review's summary may name, most open first."""
    ids = [total.person for total in review.people]
    ids += [use.requester for use in review.break_glass]
    for refusal in (*review.denied, *review.timed_out):
        ids += [refusal.requester, *([refusal.decided_by] if refusal.decided_by else [])]
    return list(dict.fromkeys(ids))


async def display_names(client: AsyncWebClient, users: Sequence[str]) -> dict[str, str]:
    """Display names of ``users`` (their profile's display name, else real name); ids that fail are left out."""

    async def name_of(user: str) -> str | None:
        try:
            response = await client.users_info(user=user)
        except (SlackApiError, SlackRequestError):
            return None
        found: dict[str, Any] = response.get("user") or {}
        profile: dict[str, Any] = found.get("profile") or {}
        name = profile.get("display_name") or profile.get("real_name") or found.get("real_name")
        return str(name) if name else None

    wanted = list(users)[:MAX_NAME_LOOKUPS]
    names = await asyncio.gather(*(name_of(user) for user in wanted))
    return {user: name for user, name in zip(wanted, names, strict=True) if name}


class SlackReviewPoster:
    """Implements ``jit.reporting.ReviewPoster``: posts with ``post_review``, people by their display names."""

    def __init__(self, client: AsyncWebClient):
        self.client = client

    async def post_review(self, where: str, review: AccessReview) -> None:
        """Post ``review`` to ``where`` (a channel id, or a user id for their DM) with its chart and CSV."""
        names = await display_names(self.client, people_named(review))
        await post_review(self.client, where, review, names=names)
