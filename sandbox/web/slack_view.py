"""The Slack emulator's state as one person sees it, flattened for the sandbox page.

Why: the page must show exactly what that person would see in Slack: the channels they are in, their DM
with the bot, ephemeral messages meant for them and nobody else, their open modal and their App Home.
The blocks are passed through untouched so the page renders what the bot really sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from sandbox.slack import SlackEmulator
from sandbox.slack_state import Message, View
from sandbox.slack_workspace import SlackUser


def person(user: SlackUser) -> dict[str, Any]:
    """A member as the user switcher and mentions show them."""
    return {"id": user.id, "name": user.name, "real_name": user.real_name, "title": user.title}


def directory(slack: SlackEmulator) -> dict[str, dict[str, str]]:
    """Names for ``<@U…>``, ``<!subteam^S…>`` and ``<#C…>`` so the page can show mentions as people read them."""
    workspace = slack.workspace
    return {
        "users": {u.id: u.name for u in workspace.users},
        "groups": {g.id: g.handle for g in workspace.usergroups},
        "channels": {c.id: c.name for c in workspace.channels},
    }


FILES_PATH = "/api/files/"
"""Where the page fetches a shared file's bytes (``SandboxWeb._file``), by file id and the viewer's user id."""


def file_json(file: Mapping[str, Any], viewer: str) -> dict[str, Any]:
    """A shared file as the page shows it: an image inline, anything else as a link; ``url`` is the sandbox's own
    route, because Slack's ``url_private`` needs the bot token."""
    file_id = str(file.get("id", ""))
    return {
        "id": file_id,
        "name": str(file.get("name", "")),
        "title": str(file.get("title", "")),
        "filetype": str(file.get("filetype", "")),
        "mimetype": str(file.get("mimetype", "")),
        "size": int(file.get("size", 0)),
        "url": f"{FILES_PATH}{quote(file_id)}?user={quote(viewer)}",
    }


def message_json(message: Message, at: str | None = None, viewer: str = "") -> dict[str, Any]:
    """One message with its current blocks; ``at`` is when it was posted in sandbox time, if known."""
    return {
        "ts": message.ts,
        "at": at,
        "channel": message.channel,
        "user": message.user,
        "text": message.text,
        "blocks": message.blocks,
        "edited": len(message.versions) > 1,
        "ephemeral": message.is_ephemeral,
        "thread_ts": message.thread_ts,
        "files": [file_json(file, viewer) for file in message.files],
    }


def view_json(view: View, *, depth: int = 1) -> dict[str, Any]:
    """A modal or Home view: its blocks, buttons' labels and the inline errors of its last submission."""
    content = view.content
    return {
        "id": view.id,
        "type": view.type,
        "callback_id": view.callback_id,
        "title": view.title,
        "submit": str((content.get("submit") or {}).get("text", "")),
        "close": str((content.get("close") or {}).get("text", "")) or "Cancel",
        "blocks": view.blocks,
        "errors": dict(view.errors),
        "depth": depth,
    }


def conversations_for(
    slack: SlackEmulator, user_id: str, posted_at: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """The channels ``user_id`` is in, then their DM with the bot, each with what they can read there."""
    state = slack.state
    found: list[dict[str, Any]] = []
    for channel in slack.workspace.channels:
        if user_id in channel.members:
            found.append({"id": channel.id, "name": channel.name, "kind": "channel", "topic": channel.topic})
    dm = slack.dm_channel_id(user_id)
    found.append({"id": dm, "name": slack.workspace.bot.name, "kind": "im", "topic": "Direct messages with the app"})
    for conversation in found:
        visible = state.messages_in(conversation["id"]) + state.ephemerals(user=user_id, channel=conversation["id"])
        visible.sort(key=lambda m: float(m.ts))
        conversation["messages"] = [message_json(m, (posted_at or {}).get(m.ts), user_id) for m in visible]
    return found


def may_see_file(slack: SlackEmulator, user_id: str, file_id: str) -> bool:
    """Whether ``file_id`` was shared in a conversation ``user_id`` reads (a channel they are in, or their DM)."""
    stored = slack.state.files.get(file_id)
    if stored is None or not stored.completed:
        return False
    readable = {c.id for c in slack.workspace.channels if user_id in c.members} | {slack.dm_channel_id(user_id)}
    return bool(readable.intersection(stored.channels))


def slack_snapshot(slack: SlackEmulator, user_id: str, posted_at: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Everything the Slack side of the page shows to ``user_id``; ``posted_at`` maps ts to sandbox time."""
    workspace = slack.workspace
    modals = slack.views_for(user_id)
    home = slack.home_for(user_id)
    return {
        "team": workspace.team_name,
        "bot": {"id": workspace.bot.user_id, "name": workspace.bot.name},
        "people": [person(u) for u in workspace.people()],
        "directory": directory(slack),
        "conversations": conversations_for(slack, user_id, posted_at),
        "modal": view_json(modals[-1], depth=len(modals)) if modals else None,
        "home": view_json(home) if home is not None else None,
    }
