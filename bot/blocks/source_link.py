"""What the requester sees in Slack for `from me`: the one-time link, or why the option is not there."""

from __future__ import annotations

from datetime import datetime

from bot.blocks.common import (
    Message,
    code,
    context,
    duration_text,
    escape_mrkdwn,
    message,
    ports_label,
    section,
    slack_date,
)
from jit.results import RequestDraft

EXAMPLE_SOURCE_COMMAND = "/jit ssh web-01 1h from 203.0.113.7"


def source_link_message(url: str, draft: RequestDraft, expires_at: datetime) -> Message:
    """The link to the confirmation page; only the requester sees it (ephemeral), and it works once."""
    what = f"{ports_label(draft.ports)} on {code(draft.vm, 300)} for {duration_text(draft.duration)}"
    text = (
        f":globe_with_meridians: To open {what} from the address you are on now, "
        f"<{url}|open this confirmation page> and press *Confirm*."
    )
    return message(
        f"Confirm your address for {escape_mrkdwn(draft.vm)}: {url}",
        [
            section(text),
            context(
                f"The link works once, until {slack_date(expires_at, '{time}')}, and only for you: do not share it. "
                "Opening it changes nothing; approvers are asked only after you confirm."
            ),
        ],
    )


def from_me_unavailable_message(*, socket_mode: bool) -> Message:
    """`from me` cannot work here: Socket Mode has no public page, or JITBOT_PUBLIC_URL is not set."""
    if socket_mode:
        why = (
            "`from me` is not available: this jitbot runs in Socket Mode, so it has no public web page to see "
            "your address from."
        )
    else:
        why = (
            "`from me` is not configured: jitbot does not know its public address. An admin can set "
            "`JITBOT_PUBLIC_URL` to turn it on."
        )
    advice = f"Name your address instead, for example `{EXAMPLE_SOURCE_COMMAND}`."
    return message(f"{why} {advice}", [section(f":information_source: {why}"), section(advice)])
