"""Shared pieces of every jitbot message: escaping, mentions, dates, truncation and block helpers.

Anything a person typed reaches Slack only through ``escape_mrkdwn`` (and ``verbatim`` text objects), so a
reason like ``<!channel>`` or ``<https://evil|docs>`` is shown literally and can neither ping nor forge a link.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.blocks.block_elements import BlockElement, InteractiveElement

from jit.durations import humanize
from jit.model import WELL_KNOWN_PORTS, VmRef
from jit.sources import addresses

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
SECTION_TEXT_LIMIT = 3000
FIELD_TEXT_LIMIT = 2000
HEADER_LIMIT = 150
BUTTON_TEXT_LIMIT = 75
BUTTON_VALUE_LIMIT = 2000
CONTEXT_ELEMENT_LIMIT = 10
FALLBACK_TEXT_LIMIT = 3000
MAX_FIELDS = 10

USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
_SPECIAL_PORT_NAMES: Mapping[int, str] = {22: "SSH", 3389: "RDP", 5985: "WinRM", 5986: "WinRM over HTTPS"}

_TRUE = frozenset({"1", "true", "yes"})


@dataclass(frozen=True)
class Message:
    """A Slack message: ``text`` is the notification/fallback text, ``blocks`` the rendered Block Kit."""

    text: str
    blocks: list[dict[str, Any]]

    def as_kwargs(self) -> dict[str, Any]:
        """``text`` and ``blocks`` ready to splat into chat.postMessage / chat.update / respond."""
        return {"text": self.text, "blocks": self.blocks}


def escape_mrkdwn(text: str) -> str:
    """Escape ``&``, ``<`` and ``>`` so user text cannot become a mention, a link or a special command."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def one_line(text: str) -> str:
    """Collapse whitespace, so user text cannot push fake lines (a forged "Approved by …") onto a card."""
    return " ".join(text.split())


def truncate(text: str, limit: int) -> str:
    """Shorten plain text to ``limit`` characters, marking the cut with an ellipsis."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 1)] + "…"


def truncate_mrkdwn(text: str, limit: int) -> str:
    """Shorten mrkdwn without cutting an entity (``&amp;``) or a ``<…>`` token in half."""
    if len(text) <= limit:
        return text
    cut = text[: max(0, limit - 1)]
    open_at = cut.rfind("<")
    if open_at > cut.rfind(">"):
        cut = cut[:open_at]
    amp_at = cut.rfind("&")
    if amp_at != -1 and ";" not in cut[amp_at:] and len(cut) - amp_at <= 6:
        cut = cut[:amp_at]
    return cut + "…"


def user_text(text: str, limit: int = 1000) -> str:
    """User-typed text made safe for mrkdwn: one line, shortened, escaped."""
    return escape_mrkdwn(truncate(one_line(text), limit))


def code(text: str, limit: int = 200) -> str:
    """Inline code for names and ids; backticks inside cannot close the span early."""
    cleaned = truncate(one_line(text), limit).replace("`", "'")
    return f"`{escape_mrkdwn(cleaned)}`" if cleaned else "_none_"


def mention(user_id: str | None) -> str:
    """``<@U…>`` for a well-formed Slack user id; anything else is shown literally and never pings."""
    if user_id and USER_ID.fullmatch(user_id):
        return f"<@{user_id}>"
    if not user_id:
        return "_unknown_"
    return code(user_id, 80)


def channel_link(channel_id: str | None) -> str:
    """``<#C…>`` for a well-formed channel id, otherwise a neutral phrase."""
    if channel_id and CHANNEL_ID.fullmatch(channel_id):
        return f"<#{channel_id}>"
    return "the approval channel"


def as_utc(when: datetime) -> datetime:
    """Naive datetimes are taken as UTC; aware ones are converted."""
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def iso_text(when: datetime) -> str:
    """The fallback form of a time: ``2024-05-01 14:00 UTC``."""
    return as_utc(when).strftime("%Y-%m-%d %H:%M UTC")


def slack_date(when: datetime, tokens: str = "{date_short_pretty} {time}") -> str:
    """A time shown in each reader's own time zone by Slack, with a UTC fallback for old clients."""
    epoch = int(as_utc(when).timestamp())
    return f"<!date^{epoch}^{tokens}|{iso_text(when)}>"


def time_left(end: datetime, now: datetime) -> str:
    """``1h 20m left`` / ``ended``: how long an access window still has."""
    remaining = as_utc(end) - as_utc(now)
    if remaining <= timedelta(0):
        return "ended"
    if remaining < timedelta(minutes=1):
        return "less than a minute left"
    return f"{humanize(remaining)} left"


def duration_text(value: timedelta) -> str:
    """``2h``, ``1h 30m``: durations as people read them."""
    return humanize(value)


def port_label(port: int) -> str:
    """``22 (SSH)`` for ports with a well-known name, the bare number otherwise."""
    name = _SPECIAL_PORT_NAMES.get(port)
    return f"{port} ({name})" if name else str(port)


def ports_label(ports: Iterable[int]) -> str:
    """Every requested port with its name: ``22 (SSH), 8080``."""
    return ", ".join(port_label(p) for p in ports) or "none"


def ports_command_text(ports: Sequence[int]) -> str:
    """Ports written the way `/jit` accepts them (``ssh,8080``), for examples."""
    names = {v[0]: k for k, v in WELL_KNOWN_PORTS.items() if len(v) == 1}
    out: list[str] = []
    for port in ports:
        if port == 5986 and 5985 in ports:
            continue
        out.append("winrm" if port == 5985 and 5986 in ports else names.get(port, str(port)))
    return ",".join(out)


def source_label(source: str) -> str:
    """The source a port is opened to; ``*`` is spelt out because it means the whole internet."""
    if source in ("*", "0.0.0.0/0", "::/0", "Any", "Internet"):
        return f"{code(source)} (any address)"
    return code(source, 100)


def wide_source_flag(source: str, limit: int | None) -> str:
    """For a source wider than the threshold ``limit`` in force when it was asked for: how many addresses, and
    the threshold (``"spans 2,147,483,648 addresses, wider than /16"``); empty otherwise."""
    if limit is None:
        return ""
    try:
        count = addresses(source)
    except ValueError:
        return ""
    return f"spans {count} addresses, wider than /{limit}"


def vm_label(vm: VmRef) -> str:
    """A VM as ``name`` in code, for sentences."""
    return code(vm.name, 80)


def mrkdwn(text: str, limit: int = SECTION_TEXT_LIMIT) -> MarkdownTextObject:
    """A verbatim mrkdwn object: Slack does no auto-linking or mention parsing on top of our escaping."""
    return MarkdownTextObject(text=truncate_mrkdwn(text, limit) or " ", verbatim=True)


def plain(text: str, limit: int = SECTION_TEXT_LIMIT) -> PlainTextObject:
    """A plain-text object, shortened to ``limit``."""
    return PlainTextObject(text=truncate(text, limit) or " ", emoji=True)


def section(text: str, accessory: BlockElement | None = None, block_id: str | None = None) -> SectionBlock:
    """A section of mrkdwn, shortened to Slack's 3000 characters."""
    return SectionBlock(text=mrkdwn(text), accessory=accessory, block_id=block_id)


def fields(pairs: Sequence[tuple[str, str]]) -> SectionBlock:
    """A two-column section of ``*label*`` / value pairs (values already safe mrkdwn), at most ten."""
    return SectionBlock(fields=[mrkdwn(f"*{label}*\n{value}", FIELD_TEXT_LIMIT) for label, value in pairs[:MAX_FIELDS]])


def header(text: str) -> HeaderBlock:
    """A header, shortened to Slack's 150 characters."""
    return HeaderBlock(text=plain(text, HEADER_LIMIT))


def context(*texts: str) -> ContextBlock:
    """Small grey text; at most ten pieces."""
    return ContextBlock(elements=[mrkdwn(t) for t in texts[:CONTEXT_ELEMENT_LIMIT]])


def divider() -> DividerBlock:
    """A horizontal rule."""
    return DividerBlock()


def button(
    text: str,
    action_id: str,
    value: str,
    style: str | None = None,
) -> ButtonElement:
    """A button; its value must fit Slack's 2000 characters, because a cut value would act on the wrong thing."""
    if len(value) > BUTTON_VALUE_LIMIT:
        raise ValueError(f"button value for {action_id} is {len(value)} characters; Slack allows 2000")
    return ButtonElement(text=plain(text, BUTTON_TEXT_LIMIT), action_id=action_id, value=value, style=style)


def actions(*elements: InteractiveElement, block_id: str | None = None) -> ActionsBlock:
    """A row of buttons."""
    return ActionsBlock(elements=list(elements), block_id=block_id)


def render(blocks: Sequence[Block], limit: int = MAX_MESSAGE_BLOCKS) -> list[dict[str, Any]]:
    """Blocks as dicts, validated by slack_sdk (lengths, counts) and within Slack's per-message block limit."""
    if len(blocks) > limit:
        raise ValueError(f"{len(blocks)} blocks; Slack allows {limit}")
    return [block.to_dict() for block in blocks]


def message(text: str, blocks: Sequence[Block]) -> Message:
    """A Message with its notification text made safe and short, and its blocks rendered."""
    return Message(text=truncate_mrkdwn(text, FALLBACK_TEXT_LIMIT), blocks=render(blocks))
