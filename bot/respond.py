"""``respond()`` on the bot's shared HTTP session: replies reuse connections to Slack's response URLs.

Bolt's own ``respond`` opens a new aiohttp session for every call, which in production is a TLS handshake
with hooks.slack.com for each ephemeral reply and each card replaced through a click's response URL. A
middleware puts this ``respond`` in the context instead; Bolt deep-copies the context for lazy listeners, and
this object copies as itself, like the session it holds.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.response import BoltResponse
from slack_sdk.models.attachments import Attachment
from slack_sdk.models.blocks import Block
from slack_sdk.webhook import WebhookResponse
from slack_sdk.webhook.async_client import AsyncWebhookClient


class SessionRespond(AsyncRespond):
    """Bolt's ``respond`` with the same arguments, posting through a shared ``aiohttp.ClientSession``."""

    def __init__(self, response_url: str, session: aiohttp.ClientSession):
        super().__init__(response_url=response_url)
        self.session = session

    def __deepcopy__(self, memo: dict[int, Any]) -> SessionRespond:
        return self

    async def __call__(
        self,
        text: str | dict[str, Any] = "",
        blocks: Sequence[dict[str, Any] | Block] | None = None,
        attachments: Sequence[dict[str, Any] | Attachment] | None = None,
        response_type: str | None = None,
        replace_original: bool | None = None,
        delete_original: bool | None = None,
        unfurl_links: bool | None = None,
        unfurl_media: bool | None = None,
        thread_ts: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> WebhookResponse:
        """Post to the response URL as Bolt would (unset fields left out), on the shared session."""
        if isinstance(text, dict):
            message = dict(text)
        else:
            message = {
                "text": text,
                "blocks": blocks,
                "attachments": attachments,
                "response_type": response_type,
                "replace_original": replace_original,
                "delete_original": delete_original,
                "unfurl_links": unfurl_links,
                "unfurl_media": unfurl_media,
                "thread_ts": thread_ts,
                "metadata": metadata,
            }
        client = AsyncWebhookClient(url=str(self.response_url), session=self.session)
        return await client.send_dict(message)


def install_session_respond(app: AsyncApp, session: Callable[[], aiohttp.ClientSession | None]) -> None:
    """Give every request that has a response URL a ``respond`` on ``session()`` (when it is open)."""

    async def session_respond(context: AsyncBoltContext, next_: Callable[[], Awaitable[BoltResponse]]) -> BoltResponse:
        shared = session()
        if context.response_url and shared is not None and not shared.closed:
            context["respond"] = SessionRespond(context.response_url, shared)
        return await next_()

    app.middleware(session_respond)
