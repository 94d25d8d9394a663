"""Slack view plumbing the admin and inventory flows share: open or push a modal, update it, DM a confirmation.

A ``trigger_id`` lives 3 s and works once, so flows open a small "working" modal first and fill it in with
``views.update`` once Azure has answered. After a submission the ack itself swaps the modal for a "saving"
view with a known ``external_id``; the lazy listener updates that external id, retrying briefly until Slack
has applied the ack, so the final result can never be overwritten by the "saving" view.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.admin_views import notice_modal
from bot.blocks.common import Message

log = logging.getLogger(__name__)

EXTERNAL_ID_RETRIES = 6
EXTERNAL_ID_FIRST_WAIT = 0.05


def clicked_user(body: dict[str, Any]) -> str:
    """The id of the person who clicked or submitted."""
    return str((body.get("user") or {}).get("id", ""))


def clicked_value(body: dict[str, Any]) -> str:
    """The value of the clicked button."""
    actions = body.get("actions") or [{}]
    return str(actions[0].get("value", ""))


def container_view(body: dict[str, Any]) -> dict[str, Any] | None:
    """The view a click happened in (a modal or App Home), or None for a click in a message."""
    view = body.get("view")
    if (body.get("container") or {}).get("type") == "view" and isinstance(view, dict):
        return view
    return None


def in_modal(body: dict[str, Any]) -> bool:
    """Whether the click came from inside a modal (so a new modal must be pushed, not opened)."""
    view = container_view(body)
    return view is not None and view.get("type") == "modal"


def result_external_id(view: dict[str, Any]) -> str:
    """The external id the ack gives the "saving" view of this submission (unique per view and version)."""
    return f"jit-result-{view.get('id', '')}-{view.get('hash', '')}"[:255]


async def open_modal(client: AsyncWebClient, trigger_id: str, view: dict[str, Any], *, push: bool = False) -> str:
    """Open (or push, from inside a modal) ``view``; returns its view id for later updates."""
    if push:
        response = await client.views_push(trigger_id=trigger_id, view=view)
    else:
        response = await client.views_open(trigger_id=trigger_id, view=view)
    return str(response["view"]["id"])


async def update_modal(client: AsyncWebClient, view_id: str, view: dict[str, Any]) -> bool:
    """Replace an open modal; False when the user has closed it meanwhile (nothing left to show it in)."""
    try:
        await client.views_update(view_id=view_id, view=view)
    except SlackApiError as exc:
        if exc.response.get("error") == "not_found":
            log.info("view.closed_before_update", extra={"view_id": view_id})
            return False
        raise
    return True


async def update_by_external_id(client: AsyncWebClient, external_id: str, view: dict[str, Any]) -> bool:
    """Replace the view with ``external_id`` once Slack has shown it; False if it never appears (closed)."""
    wait = EXTERNAL_ID_FIRST_WAIT
    for _ in range(EXTERNAL_ID_RETRIES):
        try:
            await client.views_update(external_id=external_id, view=view)
            return True
        except SlackApiError as exc:
            if exc.response.get("error") != "not_found":
                raise
        await asyncio.sleep(wait)
        wait *= 2
    log.info("view.external_id_missing", extra={"external_id": external_id})
    return False


async def direct_message(client: AsyncWebClient, user: str, content: Message) -> None:
    """DM ``user`` (a durable copy of a confirmation that was shown in a modal)."""
    opened = await client.conversations_open(users=user)
    await client.chat_postMessage(channel=str(opened["channel"]["id"]), **content.as_kwargs())


async def tell_clicker(
    client: AsyncWebClient,
    body: dict[str, Any],
    respond: AsyncRespond | None,
    content: Message,
    *,
    title: str = "jitbot",
) -> None:
    """Answer the person who clicked: ephemerally where the message is, or, for a click in App Home or a modal
    (no ``response_url`` there), in a small modal; by DM if even that is no longer possible."""
    if respond is not None and body.get("response_url"):
        await respond(response_type="ephemeral", replace_original=False, **content.as_kwargs())
        return
    try:
        await open_modal(client, str(body.get("trigger_id", "")), notice_modal(title, content), push=in_modal(body))
    except SlackApiError as exc:
        log.info("view.notice_fallback_to_dm", extra={"error": str(exc.response.get("error", ""))})
        await direct_message(client, clicked_user(body), content)
