"""The approval channel's backlog notice: what waits while Slack's posting limit drains a burst of requests."""

from __future__ import annotations

from collections.abc import Sequence

from bot.blocks.common import Message, context, escape_mrkdwn, message, section

NO_BULK = "Every request still needs its own decision on its own card; nothing is approved in bulk."


def backlog_notice(waiting: int, busiest: Sequence[tuple[str, int]], minutes_left: int) -> Message:
    """Posted once when many cards wait, then updated in place: how many, for which VMs, and when they are in."""
    vms = ", ".join(f"`{escape_mrkdwn(name)}` ({count})" for name, count in busiest)
    eta = "under a minute" if minutes_left < 1 else f"about {minutes_left} min"
    return message(
        f"{waiting} access requests are waiting for their approval cards",
        [
            section(
                f":hourglass_flowing_sand: *{waiting} access requests are waiting for their approval cards.* "
                f"Slack lets an app post about one message a second in a channel, so they arrive here one by one, "
                f"oldest first (the oldest times out first): {eta} to go."
            ),
            *([section(f"Most requested: {vms}.")] if vms else []),
            context(NO_BULK),
        ],
    )


def backlog_cleared(total: int) -> Message:
    """The backlog notice once every card is in."""
    return message(
        f"All {total} waiting approval cards are posted",
        [
            section(f":white_check_mark: *All {total} waiting approval cards are posted* below, oldest first."),
            context(NO_BULK),
        ],
    )
