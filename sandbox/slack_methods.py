"""The Web API methods the emulator answers, with Slack's argument rules, errors and scope checks.

Each handler takes the shared ``SlackState`` and the request's merged arguments and returns Slack's JSON
body, or raises ``SlackError`` with Slack's error code. Authentication, faults and recording happen in the
HTTP layer (``sandbox.slack``); scope checks happen here, from ``METHOD_SCOPES``. The ``files.*`` upload
methods live in ``sandbox.slack_files`` and register themselves here when it is imported (``sandbox.slack`` does).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sandbox.slack_blocks import MAX_MESSAGE_BLOCKS, MAX_MESSAGE_TEXT, blocks_errors, view_errors
from sandbox.slack_state import Conversation, Message, SlackError, SlackState, View
from sandbox.slack_workspace import SlackUser, UserGroup

METHOD_SCOPES: dict[str, tuple[str, ...]] = {
    "auth.test": (),
    "chat.postMessage": ("chat:write",),
    "chat.update": ("chat:write",),
    "chat.postEphemeral": ("chat:write",),
    "chat.delete": ("chat:write",),
    "conversations.open": ("im:write", "mpim:write", "channels:manage", "groups:write"),
    "conversations.info": ("channels:read", "groups:read", "im:read", "mpim:read"),
    "conversations.members": ("channels:read", "groups:read", "im:read", "mpim:read"),
    "files.getUploadURLExternal": ("files:write",),
    "files.completeUploadExternal": ("files:write",),
    "users.info": ("users:read",),
    "usergroups.list": ("usergroups:read",),
    "usergroups.users.list": ("usergroups:read",),
    "views.open": (),
    "views.update": (),
    "views.push": (),
    "views.publish": (),
}
"""Method → scopes of which the token needs at least one (``()``: none needed)."""

Handler = Callable[[SlackState, "Args"], dict[str, Any]]
HANDLERS: dict[str, Handler] = {}


def handler(method: str) -> Callable[[Handler], Handler]:
    def register(func: Handler) -> Handler:
        HANDLERS[method] = func
        return func

    return register


class Args:
    """A request's arguments merged from query string, form and JSON body, read the way Slack reads them."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw

    def text(self, name: str) -> str | None:
        """A string argument; numbers and booleans are read as their text, empty strings as absent."""
        value = self.raw.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    def flag(self, name: str, default: bool = False) -> bool:
        """A boolean argument (``true``, ``1`` or JSON true)."""
        value = self.raw.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        return str(value).lower() in ("1", "true", "yes")

    def number(self, name: str, default: int) -> int:
        """An integer argument, ``default`` when absent or not a number."""
        try:
            return int(self.raw.get(name, default))
        except (TypeError, ValueError):
            return default

    def obj(self, name: str, *, error: str) -> Any:
        """A JSON argument: form posts send it as a JSON string, JSON posts as an object."""
        value = self.raw.get(name)
        if isinstance(value, str):
            if value == "":
                return None
            try:
                return json.loads(value)
            except ValueError:
                raise SlackError(error) from None
        return value

    def listing(self, name: str) -> list[str]:
        """A comma-separated (or JSON list) argument."""
        value = self.raw.get(name)
        if isinstance(value, list):
            return [str(v) for v in value]
        return [part.strip() for part in str(value or "").split(",") if part.strip()]


def check_scopes(method: str, granted: frozenset[str]) -> None:
    """Raise ``missing_scope`` (with ``needed`` and ``provided``) when the token lacks the method's scope."""
    needed = METHOD_SCOPES.get(method, ())
    if needed and not granted.intersection(needed):
        raise SlackError("missing_scope", needed=",".join(needed), provided=",".join(sorted(granted)))


def call(state: SlackState, method: str, raw_args: dict[str, Any]) -> dict[str, Any]:
    """Run one Web API method; raises SlackError for API errors (``unknown_method`` too)."""
    handler = HANDLERS.get(method)
    if handler is None:
        raise SlackError("unknown_method", req_method=method)
    check_scopes(method, frozenset(state.workspace.scopes))
    return handler(state, Args(raw_args))


# -- shared rules ------------------------------------------------------------------------------------


def message_content(args: Args, *, blocks_optional_keep: list[dict[str, Any]] | None = None) -> tuple[str, list[Any]]:
    """``text`` and ``blocks`` checked like chat.postMessage: one of them required, blocks within limits.

    With ``blocks_optional_keep`` (chat.update) an absent ``blocks`` keeps those blocks, as Slack does.
    """
    text = args.text("text") or ""
    blocks = args.obj("blocks", error="invalid_blocks_format")
    if blocks is None and not text:
        raise SlackError("no_text")
    if blocks is not None:
        errors = blocks_errors(blocks, max_blocks=MAX_MESSAGE_BLOCKS)
        if errors:
            raise SlackError("invalid_blocks", response_metadata={"messages": errors})
    if len(text) > MAX_MESSAGE_TEXT:
        raise SlackError("msg_too_long")
    if blocks is None:
        return text, list(blocks_optional_keep or [])
    if not blocks and not text:
        raise SlackError("no_text")
    return text, blocks


def _is_user_id(value: str) -> bool:
    return value[:1] in ("U", "W") and value[1:].isalnum() and value.upper() == value


def postable_conversation(state: SlackState, channel_arg: str | None) -> Conversation:
    """Where a chat.* call may post: a channel the bot can post in, or a DM opened from a user id."""
    if not channel_arg:
        raise SlackError("channel_not_found")
    if _is_user_id(channel_arg):
        user = state.workspace.user(channel_arg)
        if user is None or user.deleted or user.is_bot:
            raise SlackError("channel_not_found")
        channel_arg, _ = state.open_dm(user.id)
    conversation = state.conversation(channel_arg)
    if conversation is None:
        raise SlackError("channel_not_found")
    if not conversation.bot_is_member:
        if conversation.kind == "group":
            raise SlackError("channel_not_found")
        if "chat:write.public" not in state.workspace.scopes:
            raise SlackError("not_in_channel")
    return conversation


def visible_conversation(state: SlackState, channel_arg: str | None) -> Conversation:
    """A conversation the bot can read about: public channels, or private ones and DMs it is in."""
    conversation = state.conversation(channel_arg or "")
    if conversation is None or (conversation.kind == "group" and not conversation.bot_is_member):
        raise SlackError("channel_not_found")
    return conversation


def _updatable(state: SlackState, args: Args) -> Message:
    channel_arg = args.text("channel")
    if not channel_arg:
        raise SlackError("channel_not_found")
    conversation = state.conversation(channel_arg)
    if conversation is None:
        raise SlackError("channel_not_found")
    ts = args.text("ts")
    message = state.find(conversation.id, ts) if ts else None
    if message is None or message.is_ephemeral:
        raise SlackError("message_not_found")
    if message.user != state.workspace.bot.user_id:
        raise SlackError("cant_update_message")
    return message


# -- auth and chat -----------------------------------------------------------------------------------


@handler("auth.test")
def auth_test(state: SlackState, args: Args) -> dict[str, Any]:
    """Who the token belongs to."""
    ws = state.workspace
    return {
        "ok": True,
        "url": ws.url,
        "team": ws.team_name,
        "user": ws.bot.name,
        "team_id": ws.team_id,
        "user_id": ws.bot.user_id,
        "bot_id": ws.bot.bot_id,
        "app_id": ws.bot.app_id,
        "is_enterprise_install": False,
    }


@handler("chat.postMessage")
def chat_post_message(state: SlackState, args: Args) -> dict[str, Any]:
    """Post to a channel, or to a user's DM when given a user id."""
    conversation = postable_conversation(state, args.text("channel"))
    text, blocks = message_content(args)
    message = state.post(
        conversation.id, text=text, blocks=blocks, via="chat.postMessage", thread_ts=args.text("thread_ts")
    )
    return {"ok": True, "channel": conversation.id, "ts": message.ts, "message": message.to_api(state.workspace)}


@handler("chat.update")
def chat_update(state: SlackState, args: Args) -> dict[str, Any]:
    """Replace a bot message's content; absent ``blocks`` keeps the old blocks, ``[]`` removes them."""
    message = _updatable(state, args)
    text, blocks = message_content(args, blocks_optional_keep=message.blocks)
    state.update(message, text=text, blocks=blocks, via="chat.update")
    return {
        "ok": True,
        "channel": message.channel,
        "ts": message.ts,
        "text": message.text,
        "message": message.to_api(state.workspace),
    }


@handler("chat.postEphemeral")
def chat_post_ephemeral(state: SlackState, args: Args) -> dict[str, Any]:
    """Show a message to one member of a conversation."""
    conversation = postable_conversation(state, args.text("channel"))
    user_id = args.text("user")
    user = state.workspace.user(user_id or "")
    if user is None or user.deleted:
        raise SlackError("user_not_found")
    if not conversation.has_member(user.id):
        raise SlackError("user_not_in_channel")
    text, blocks = message_content(args)
    message = state.post(
        conversation.id,
        text=text,
        blocks=blocks,
        via="chat.postEphemeral",
        thread_ts=args.text("thread_ts"),
        ephemeral_to=user.id,
    )
    return {"ok": True, "message_ts": message.ts}


@handler("chat.delete")
def chat_delete(state: SlackState, args: Args) -> dict[str, Any]:
    """Delete a bot message."""
    message = _updatable(state, args)
    state.delete(message)
    return {"ok": True, "channel": message.channel, "ts": message.ts}


# -- conversations -----------------------------------------------------------------------------------


@handler("conversations.open")
def conversations_open(state: SlackState, args: Args) -> dict[str, Any]:
    """Open (or find) the DM with one user. Multi-person DMs are not emulated."""
    channel_arg = args.text("channel")
    if channel_arg:
        conversation = visible_conversation(state, channel_arg)
        return {"ok": True, "no_op": True, "already_open": True, "channel": {"id": conversation.id}}
    users = args.listing("users")
    if not users:
        raise SlackError("users_list_not_supplied")
    if len(users) > 1:
        raise SlackError("not_supported", detail="the emulator only opens one-to-one DMs")
    user = state.workspace.user(users[0])
    if user is None:
        raise SlackError("user_not_found")
    if user.deleted:
        raise SlackError("user_disabled")
    if user.is_bot:
        raise SlackError("cannot_dm_bot")
    dm, already_open = state.open_dm(user.id)
    channel: dict[str, Any] = {"id": dm}
    if args.flag("return_im"):
        channel = _conversation_info(state, visible_conversation(state, dm))
    return {"ok": True, "no_op": already_open, "already_open": already_open, "channel": channel}


def _conversation_info(state: SlackState, conversation: Conversation) -> dict[str, Any]:
    if conversation.kind == "im":
        return {
            "id": conversation.id,
            "created": 1_700_000_000,
            "is_im": True,
            "is_org_shared": False,
            "user": conversation.user,
            "is_user_deleted": False,
            "priority": 0,
        }
    private = conversation.kind == "group"
    return {
        "id": conversation.id,
        "name": conversation.name,
        "name_normalized": conversation.name,
        "is_channel": not private,
        "is_group": private,
        "is_im": False,
        "is_mpim": False,
        "is_private": private,
        "is_archived": False,
        "is_general": conversation.name == "general",
        "is_shared": False,
        "is_ext_shared": False,
        "is_org_shared": False,
        "is_member": conversation.bot_is_member,
        "created": 1_700_000_000,
        "creator": "",
        "topic": {"value": conversation.topic, "creator": "", "last_set": 0},
        "purpose": {"value": "", "creator": "", "last_set": 0},
        "num_members": len(conversation.members),
    }


@handler("conversations.info")
def conversations_info(state: SlackState, args: Args) -> dict[str, Any]:
    """Describe a conversation, including whether the bot is a member."""
    conversation = visible_conversation(state, args.text("channel"))
    return {"ok": True, "channel": _conversation_info(state, conversation)}


@handler("conversations.members")
def conversations_members(state: SlackState, args: Args) -> dict[str, Any]:
    """Member ids of a conversation, cursor-paginated like Slack."""
    conversation = visible_conversation(state, args.text("channel"))
    members = list(conversation.members)
    start = args.number("cursor", 0)
    limit = max(1, min(args.number("limit", 100), 1000))
    page = members[start : start + limit]
    next_cursor = str(start + limit) if start + limit < len(members) else ""
    return {"ok": True, "members": page, "response_metadata": {"next_cursor": next_cursor}}


# -- users and groups --------------------------------------------------------------------------------


def _tz_fields(tz: str) -> dict[str, Any]:
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    now = datetime.now(zone)
    offset = now.utcoffset()
    return {"tz": tz, "tz_label": now.tzname() or tz, "tz_offset": int(offset.total_seconds()) if offset else 0}


def user_object(state: SlackState, user: SlackUser) -> dict[str, Any]:
    """A user as users.info returns it; ``email`` only with ``users:read.email``, like Slack."""
    profile: dict[str, Any] = {
        "title": user.title,
        "real_name": user.real_name or user.name,
        "real_name_normalized": user.real_name or user.name,
        "display_name": user.name,
        "display_name_normalized": user.name,
        "team": state.workspace.team_id,
        "image_48": "",
    }
    if user.email and "users:read.email" in state.workspace.scopes:
        profile["email"] = user.email
    return {
        "id": user.id,
        "team_id": state.workspace.team_id,
        "name": user.name,
        "deleted": user.deleted,
        "real_name": user.real_name or user.name,
        **_tz_fields(user.tz),
        "profile": profile,
        "is_admin": user.is_admin,
        "is_owner": False,
        "is_primary_owner": False,
        "is_restricted": False,
        "is_ultra_restricted": False,
        "is_bot": user.is_bot,
        "is_app_user": False,
        "updated": 1_700_000_000,
    }


@handler("users.info")
def users_info(state: SlackState, args: Args) -> dict[str, Any]:
    """One user (deleted users are returned with ``deleted: true``, as Slack does)."""
    user = state.workspace.user(args.text("user") or "")
    if user is None:
        raise SlackError("user_not_found")
    return {"ok": True, "user": user_object(state, user)}


def _group_object(state: SlackState, group: UserGroup, *, include_users: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": group.id,
        "team_id": state.workspace.team_id,
        "is_usergroup": True,
        "is_subteam": True,
        "name": group.name or group.handle,
        "description": group.description,
        "handle": group.handle,
        "is_external": False,
        "date_create": 1_700_000_000,
        "date_update": 1_700_000_000,
        "date_delete": 0,
        "auto_type": None,
        "created_by": "",
        "updated_by": "",
        "deleted_by": None,
        "prefs": {"channels": [], "groups": []},
        "user_count": len(group.members),
    }
    if include_users:
        body["users"] = list(group.members)
    return body


@handler("usergroups.list")
def usergroups_list(state: SlackState, args: Args) -> dict[str, Any]:
    """Every user group; members only with ``include_users``."""
    include_users = args.flag("include_users")
    return {
        "ok": True,
        "usergroups": [_group_object(state, g, include_users=include_users) for g in state.workspace.usergroups],
    }


@handler("usergroups.users.list")
def usergroups_users_list(state: SlackState, args: Args) -> dict[str, Any]:
    """Member ids of one user group."""
    group_id = args.text("usergroup")
    if not group_id:
        raise SlackError("invalid_arguments", response_metadata={"messages": ["missing required field: usergroup"]})
    group = state.workspace.usergroup(group_id)
    if group is None:
        raise SlackError("no_such_subteam")
    return {"ok": True, "users": list(group.members)}


# -- views -------------------------------------------------------------------------------------------


def _view_payload(args: Args, *, kind: str) -> dict[str, Any]:
    view = args.obj("view", error="invalid_arguments")
    if view is None:
        raise SlackError("invalid_arguments", response_metadata={"messages": ["missing required field: view"]})
    errors = view_errors(view, kind=kind)
    if errors:
        raise SlackError("invalid_arguments", response_metadata={"messages": errors})
    payload: dict[str, Any] = view
    return payload


def _view_response(state: SlackState, view: View) -> dict[str, Any]:
    return {"ok": True, "view": view.to_api(state.workspace)}


def _external_id_taken(state: SlackState, content: dict[str, Any], current: View | None = None) -> None:
    external_id = content.get("external_id")
    if external_id:
        other = state.view_by_external_id(str(external_id))
        if other is not None and other is not current:
            raise SlackError("duplicate_external_id")


@handler("views.open")
def views_open(state: SlackState, args: Args) -> dict[str, Any]:
    """Open a modal for the user whose interaction issued ``trigger_id``."""
    trigger_id = args.text("trigger_id") or args.text("interactivity_pointer")
    if not trigger_id:
        raise SlackError("invalid_arguments", response_metadata={"messages": ["missing required field: trigger_id"]})
    content = _view_payload(args, kind="modal")
    _external_id_taken(state, content)
    user = state.redeem_trigger(trigger_id)
    return _view_response(state, state.open_modal(user, content))


@handler("views.push")
def views_push(state: SlackState, args: Args) -> dict[str, Any]:
    """Push a modal onto the user's stack (at most three deep)."""
    trigger_id = args.text("trigger_id") or args.text("interactivity_pointer")
    if not trigger_id:
        raise SlackError("invalid_arguments", response_metadata={"messages": ["missing required field: trigger_id"]})
    content = _view_payload(args, kind="modal")
    _external_id_taken(state, content)
    user = state.redeem_trigger(trigger_id)
    if len(state.modal_stack(user)) >= 3:
        raise SlackError("push_limit_reached")
    return _view_response(state, state.push_modal(user, content))


@handler("views.update")
def views_update(state: SlackState, args: Args) -> dict[str, Any]:
    """Replace an open view, by ``view_id`` or ``external_id``, guarded by ``hash`` when given."""
    view_id = args.text("view_id")
    external_id = args.text("external_id")
    if not view_id and not external_id:
        raise SlackError("invalid_arguments", response_metadata={"messages": ["view_id or external_id is required"]})
    view = state.view(view_id) if view_id else state.view_by_external_id(external_id or "")
    if view is None or view.closed:
        raise SlackError("not_found")
    content = _view_payload(args, kind=view.type)
    _external_id_taken(state, content, view)
    expected_hash = args.text("hash")
    if expected_hash and expected_hash != view.hash:
        raise SlackError("hash_conflict")
    return _view_response(state, state.update_view(view, content))


@handler("views.publish")
def views_publish(state: SlackState, args: Args) -> dict[str, Any]:
    """Publish a user's App Home tab."""
    user_id = args.text("user_id")
    user = state.workspace.user(user_id or "")
    if user is None or user.deleted:
        raise SlackError("user_not_found")
    content = _view_payload(args, kind="home")
    existing = state.home(user.id)
    expected_hash = args.text("hash")
    if existing is not None and expected_hash and expected_hash != existing.hash:
        raise SlackError("hash_conflict")
    return _view_response(state, state.publish_home(user.id, content))
