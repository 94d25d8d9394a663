"""Friendly refusals: what was wrong and a corrected example, always ephemeral and always escaped."""

from __future__ import annotations

from slack_sdk.models.blocks import Block

from bot.blocks.common import Message, context, escape_mrkdwn, message, one_line, section, truncate


def error_message(problem: str, example: str | None = None) -> Message:
    """Say what was wrong and show a corrected command the user can copy."""
    text = f":warning: {escape_mrkdwn(truncate(problem, 2000))}"
    blocks: list[Block] = [section(text)]
    if example:
        shown = escape_mrkdwn(truncate(one_line(example), 500).replace("`", "'"))
        blocks.append(section(f"Try:\n`{shown}`"))
    blocks.append(context("`/jit help` shows every form."))
    fallback = escape_mrkdwn(truncate(problem, 500)) + (f" Try: {escape_mrkdwn(example)}" if example else "")
    return message(fallback, blocks)


def refusal_message(reason: str) -> Message:
    """A polite no: the user may not do this (not an approver, not an admin, own request…)."""
    text = f":no_entry_sign: {escape_mrkdwn(truncate(reason, 2000))}"
    return message(escape_mrkdwn(truncate(reason, 500)), [section(text)])


def unavailable_message() -> Message:
    """jitbot cannot reach its store or Azure right now; nothing was changed, try again shortly."""
    text = (
        ":construction: jitbot is temporarily unavailable and could not record that. Nothing was changed; "
        "please try again in a minute."
    )
    return message("jitbot is temporarily unavailable; nothing was changed.", [section(text)])


def rate_limited_message(limit_text: str) -> Message:
    """The user hit an abuse limit (pending requests or commands per minute); ``limit_text`` says which."""
    text = f":snail: {escape_mrkdwn(truncate(limit_text, 1000))} Please wait a little and try again."
    return message(escape_mrkdwn(truncate(limit_text, 500)), [section(text)])
