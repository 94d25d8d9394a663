"""The Events API request Slack sends when someone opens the app's Home tab.

Why: an App Home is published by the bot when it hears ``app_home_opened``; the driver only sends slash
commands and interactions, so the page sends this event itself, JSON-encoded and signed like Slack's.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

import aiohttp

from sandbox.slack_driver import USER_AGENT, sign
from sandbox.slack_workspace import Workspace


def app_home_opened(workspace: Workspace, *, user: str, channel: str) -> dict[str, Any]:
    """The ``event_callback`` body for ``user`` opening the Home tab of their DM ``channel`` with the app."""
    now = time.time()
    return {
        "token": workspace.verification_token,
        "team_id": workspace.team_id,
        "api_app_id": workspace.bot.app_id,
        "event": {
            "type": "app_home_opened",
            "user": user,
            "channel": channel,
            "tab": "home",
            "event_ts": f"{now:.6f}",
        },
        "type": "event_callback",
        "event_id": "Ev" + secrets.token_hex(5).upper(),
        "event_time": int(now),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": workspace.team_id,
                "user_id": workspace.bot.user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
    }


async def send_event(session: aiohttp.ClientSession, bot_url: str, secret: str, body: dict[str, Any]) -> int:
    """Post one signed Events API request to the bot; returns the HTTP status it answered with."""
    text = json.dumps(body, separators=(",", ":"))
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Slack-Request-Timestamp": str(timestamp),
        "X-Slack-Signature": sign(secret, timestamp, text),
    }
    async with session.post(
        bot_url, data=text.encode(), headers=headers, timeout=aiohttp.ClientTimeout(total=10)
    ) as response:
        await response.read()
        return response.status
