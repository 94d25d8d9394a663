"""``bot.ackpath.fast_ack`` must agree with Bolt: whatever it answers with an empty 200, Bolt's ack listener would too.

Each case is dispatched through the real Bolt app of a running stack; the fast path is only allowed where
Bolt's own answer is a bare 200, and every click and command the bot handles takes it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from slack_bolt.request.async_request import AsyncBoltRequest

from bot.ackpath.fast_ack import ack_is_empty
from bot.app import build_bolt_app
from bot.blocks.inventory import ENABLE_ACTION, LIST_MORE_ACTION
from bot.handlers.lifecycle import ACK_REVIEW_ACTION, EXTEND_ACTION, REVOKE_ACTION
from sandbox.stack import Stack

FORM = "application/x-www-form-urlencoded"
ACTIONS = [
    "jit_approve",
    "jit_deny",
    "jit_cancel",
    EXTEND_ACTION,
    REVOKE_ACTION,
    ACK_REVIEW_ACTION,
    LIST_MORE_ACTION,
    ENABLE_ACTION,
]
ACTIONS += ["jit_list_tab:configured", "jit_list_tab"]
COMMAND_TEXTS = ["ssh web-01 2h", "status", "list", "help ssh", "", "help", "ssh", "rdp web-01 99y", "ssh web-01 2h *"]


def _command(text: str) -> bytes:
    form = {"command": "/jit", "text": text, "user_id": "U0", "team_id": "T0", "channel_id": "D0"}
    form |= {"response_url": "http://127.0.0.1:9/hook", "trigger_id": "1.2.3", "api_app_id": "A0"}
    return urlencode(form).encode()


def _click(action_id: str) -> bytes:
    payload = {
        "type": "block_actions",
        "user": {"id": "U0", "team_id": "T0"},
        "team": {"id": "T0"},
        "api_app_id": "A0",
        "container": {"type": "message", "message_ts": "1.1", "channel_id": "C0"},
        "channel": {"id": "C0"},
        "response_url": "http://127.0.0.1:9/hook",
        "trigger_id": "1.2.3",
        "actions": [{"action_id": action_id, "block_id": "b", "type": "button", "value": "x", "action_ts": "1.1"}],
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


def _submission(callback_id: str) -> bytes:
    view: dict[str, Any] = {"id": "V0", "callback_id": callback_id, "state": {"values": {}}, "private_metadata": ""}
    payload = {"type": "view_submission", "user": {"id": "U0", "team_id": "T0"}, "team": {"id": "T0"}, "view": view}
    return urlencode({"payload": json.dumps(payload)}).encode()


def _event(kind: str) -> bytes:
    body = {"type": kind, "team_id": "T0", "api_app_id": "A0", "challenge": "c"}
    body["event"] = {"type": "app_home_opened", "user": "U0", "tab": "messages"}  # type: ignore[assignment]
    return json.dumps(body).encode()


CASES = [(f"/jit {t!r}", _command(t), FORM) for t in COMMAND_TEXTS]
CASES += [(f"click {a}", _click(a), FORM) for a in ACTIONS]
CASES += [(f"submit {c}", _submission(c), FORM) for c in ("jit_request_modal", "jit_policy", "jit_disable")]
CASES += [(f"event {k}", _event(k), "application/json") for k in ("event_callback", "url_verification")]


async def test_the_fast_path_answers_only_what_bolt_would_answer_with_an_empty_200(stack: Stack) -> None:
    bolt = build_bolt_app(stack.runtime)
    fast = 0
    for name, body, content_type in CASES:
        headers: dict[str, str | Sequence[str]] = {"content-type": [content_type]}
        response = await bolt.async_dispatch(AsyncBoltRequest(body=body.decode(), headers=headers))
        if ack_is_empty(body, content_type):
            fast += 1
            assert (response.status, response.body) == (200, ""), name
        elif name.startswith("/jit"):
            assert response.status == 200 and response.body, name
    assert fast == len(ACTIONS) + 7


def test_every_click_and_well_formed_command_takes_the_fast_path() -> None:
    assert all(ack_is_empty(_click(a), FORM) for a in ACTIONS)
    assert all(ack_is_empty(_command(t), FORM) for t in ("ssh web-01 2h", "status", "list", "help ssh", ""))
    assert ack_is_empty(_command("rdp web-01 2m"), FORM), "a mistake naming a VM is answered once checked against it"
    assert ack_is_empty(_event("event_callback"), "application/json")


def test_anything_whose_ack_carries_a_body_or_is_unknown_goes_through_bolt() -> None:
    assert not any(ack_is_empty(_command(t), FORM) for t in ("help", "ssh", "rdp web-01 99y", "ssh bad_name! 1h"))
    assert not any(ack_is_empty(_submission(c), FORM) for c in ("jit_request_modal", "jit_policy"))
    assert not ack_is_empty(_event("url_verification"), "application/json")
    unknown_command = urlencode({"command": "/other", "text": "ssh web-01 2h"}).encode()
    for body, content_type in [(unknown_command, FORM), (b"payload=not-json", FORM), (b"\xff\xfe", FORM)]:
        assert not ack_is_empty(body, content_type)
    assert not ack_is_empty(b"{not json", "application/json")
