"""Block Kit builders: pure functions from jitbot's typed values to Slack messages and views.

All user-facing text lives here. Each family has its own module; every builder returns a ``Message``
(notification text plus rendered blocks) or, for modals and the Home tab, a view dict.
"""

from __future__ import annotations

from bot.blocks.common import Message, escape_mrkdwn

__all__ = ["Message", "escape_mrkdwn"]
