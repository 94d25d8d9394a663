"""The request bodies Slack sends to an app: slash commands, block_actions, view_submission, view_closed.

Pure functions over the emulator's workspace, messages and views, so the driver, the sandbox UI and tests
build exactly the shapes a real workspace sends (including the parts apps often forget to handle: no
``message`` in clicks on ephemeral messages, ``state.values`` with every input, initial values included).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from sandbox.slack_state import Button, Conversation, Message, View, interactive_elements
from sandbox.slack_workspace import SlackUser, Workspace

_TEXT_INPUTS = frozenset({"plain_text_input", "number_input", "email_text_input", "url_text_input"})
_SINGLE_OPTION = frozenset({"static_select", "external_select", "radio_buttons"})
_MULTI_OPTION = frozenset({"multi_static_select", "multi_external_select", "checkboxes"})
_PICKERS: dict[str, tuple[str, str]] = {
    "users_select": ("selected_user", "initial_user"),
    "multi_users_select": ("selected_users", "initial_users"),
    "conversations_select": ("selected_conversation", "initial_conversation"),
    "multi_conversations_select": ("selected_conversations", "initial_conversations"),
    "channels_select": ("selected_channel", "initial_channel"),
    "multi_channels_select": ("selected_channels", "initial_channels"),
    "datepicker": ("selected_date", "initial_date"),
    "timepicker": ("selected_time", "initial_time"),
    "datetimepicker": ("selected_date_time", "initial_date_time"),
}
_NOT_STATEFUL = frozenset({"button", "overflow", "workflow_button", "feedback_buttons", "icon_button"})


def user_ref(workspace: Workspace, user: SlackUser) -> dict[str, str]:
    """The ``user`` object of interaction payloads."""
    return {"id": user.id, "username": user.name, "name": user.name, "team_id": workspace.team_id}


def team_ref(workspace: Workspace) -> dict[str, str]:
    """The ``team`` object of interaction payloads."""
    return {"id": workspace.team_id, "domain": workspace.domain}


def channel_name(conversation: Conversation) -> str:
    """What Slack sends as ``channel_name``: the name, or ``directmessage`` / ``privategroup``."""
    if conversation.kind == "im":
        return "directmessage"
    return conversation.name


def slash_command_form(
    workspace: Workspace,
    *,
    user: SlackUser,
    conversation: Conversation,
    command: str,
    text: str,
    response_url: str,
    trigger_id: str,
) -> dict[str, str]:
    """The form fields of a slash command request, in the order Slack sends them."""
    return {
        "token": workspace.verification_token,
        "team_id": workspace.team_id,
        "team_domain": workspace.domain,
        "channel_id": conversation.id,
        "channel_name": channel_name(conversation),
        "user_id": user.id,
        "user_name": user.name,
        "command": command,
        "text": text,
        "api_app_id": workspace.bot.app_id,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }


def button_action(button: Button, value: str | None) -> dict[str, Any]:
    """One entry of ``actions[]`` for a clicked button; ``value`` overrides the button's (for forgeries)."""
    action: dict[str, Any] = {
        "action_id": button.action_id,
        "block_id": button.block_id,
        "text": button.element.get("text", {"type": "plain_text", "text": button.text}),
        "type": "button",
        "action_ts": f"{time.time():.6f}",
    }
    chosen = button.value if value is None else value
    if chosen is not None:
        action["value"] = chosen
    if button.style:
        action["style"] = button.style
    return action


def message_block_actions(
    workspace: Workspace,
    *,
    user: SlackUser,
    conversation: Conversation,
    message: Message,
    action: dict[str, Any],
    response_url: str,
    trigger_id: str,
) -> dict[str, Any]:
    """A ``block_actions`` payload for a click in a message; ephemeral messages carry no ``message``."""
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": user_ref(workspace, user),
        "api_app_id": workspace.bot.app_id,
        "token": workspace.verification_token,
        "container": {
            "type": "message",
            "message_ts": message.ts,
            "channel_id": message.channel,
            "is_ephemeral": message.is_ephemeral,
        },
        "trigger_id": trigger_id,
        "team": team_ref(workspace),
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": conversation.id, "name": channel_name(conversation)},
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [action],
    }
    if not message.is_ephemeral:
        payload["message"] = message.to_api(workspace)
    return payload


def view_block_actions(
    workspace: Workspace,
    *,
    user: SlackUser,
    view: View,
    action: dict[str, Any],
    trigger_id: str,
    values: dict[str, Any],
) -> dict[str, Any]:
    """A ``block_actions`` payload for a click in a modal or App Home (no channel, no response URL)."""
    return {
        "type": "block_actions",
        "user": user_ref(workspace, user),
        "api_app_id": workspace.bot.app_id,
        "token": workspace.verification_token,
        "container": {"type": "view", "view_id": view.id},
        "trigger_id": trigger_id,
        "team": team_ref(workspace),
        "enterprise": None,
        "is_enterprise_install": False,
        "view": view.to_api(workspace, values),
        "actions": [action],
    }


def view_submission(
    workspace: Workspace, *, user: SlackUser, view: View, trigger_id: str, values: dict[str, Any]
) -> dict[str, Any]:
    """A ``view_submission`` payload with the view and everything entered in it."""
    return {
        "type": "view_submission",
        "team": team_ref(workspace),
        "user": user_ref(workspace, user),
        "api_app_id": workspace.bot.app_id,
        "token": workspace.verification_token,
        "trigger_id": trigger_id,
        "view": view.to_api(workspace, values),
        "response_urls": [],
        "enterprise": None,
        "is_enterprise_install": False,
    }


def view_closed(workspace: Workspace, *, user: SlackUser, view: View, values: dict[str, Any]) -> dict[str, Any]:
    """A ``view_closed`` payload (sent only for views with ``notify_on_close``)."""
    return {
        "type": "view_closed",
        "team": team_ref(workspace),
        "user": user_ref(workspace, user),
        "api_app_id": workspace.bot.app_id,
        "token": workspace.verification_token,
        "view": view.to_api(workspace, values),
        "is_cleared": False,
        "enterprise": None,
        "is_enterprise_install": False,
    }


def _option(element: dict[str, Any], value: str) -> dict[str, Any]:
    options = list(element.get("options", []))
    for group in element.get("option_groups", []):
        options.extend(group.get("options", []))
    match = next((o for o in options if o.get("value") == value), None)
    return dict(match) if match else {"text": {"type": "plain_text", "text": value}, "value": value}


def element_state(element: dict[str, Any], value: Any, *, provided: bool) -> dict[str, Any]:
    """The ``state.values`` entry of one element: what was entered, or its initial value when nothing was."""
    kind = str(element.get("type"))
    if kind in _TEXT_INPUTS:
        text = value if provided else element.get("initial_value")
        return {"type": kind, "value": None if text is None else str(text)}
    if kind in _SINGLE_OPTION:
        if not provided:
            return {"type": kind, "selected_option": element.get("initial_option")}
        return {"type": kind, "selected_option": None if value is None else _option(element, str(value))}
    if kind in _MULTI_OPTION:
        chosen = [_option(element, str(v)) for v in value or []] if provided else element.get("initial_options", [])
        return {"type": kind, "selected_options": chosen}
    if kind in _PICKERS:
        selected, initial = _PICKERS[kind]
        return {"type": kind, selected: value if provided else element.get(initial)}
    return {"type": kind, "value": value}


def _is_slack_shaped(values: Mapping[str, Any]) -> bool:
    return bool(values) and all(
        isinstance(actions, dict) and all(isinstance(s, dict) and "type" in s for s in actions.values())
        for actions in values.values()
    )


def state_values(view: View, values: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``view.state.values`` for a submission or click: every stateful element of the view.

    ``values`` maps an element's ``action_id`` (or its block's ``block_id``) to what the user entered:
    a string for text inputs, selects, radio buttons and pickers; a list for multi-selects and checkboxes.
    Options are looked up in the element (an unknown value is sent anyway, like a tampered request).
    Slack-shaped values (``{block_id: {action_id: {...}}}``) are passed through unchanged.
    """
    given = dict(values or {})
    if _is_slack_shaped(given):
        return given
    result: dict[str, Any] = {}
    used: set[str] = set()
    for block_id, element in interactive_elements(view.blocks):
        if element.get("type") in _NOT_STATEFUL:
            continue
        action_id = str(element.get("action_id", ""))
        key = action_id if action_id in given else block_id if block_id in given else None
        if key is not None:
            used.add(key)
        state = element_state(element, given.get(key) if key else None, provided=key is not None)
        result.setdefault(block_id, {})[action_id] = state
    unknown = set(given) - used
    if unknown:
        raise KeyError(f"no input with action_id or block_id {sorted(unknown)} in view {view.id}")
    return result
