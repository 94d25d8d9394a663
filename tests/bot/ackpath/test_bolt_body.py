"""``body_for_bolt``: Bolt's own parser reads the fields Slack sent, whatever words a command's text holds."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlencode

import pytest
from slack_bolt.request.internals import parse_body

from bot.ackpath.bolt_body import body_for_bolt

FORM = "application/x-www-form-urlencoded"
TEXTS = ["payload", "ssh web-01 1h fixing the payload parser", "payload=1&x", "{payload}", "ssh web-01 1h"]


def _command(text: str) -> str:
    return urlencode({"command": "/jit", "text": text, "user_id": "U0", "trigger_id": "1.2.3"})


@pytest.mark.parametrize("text", TEXTS)
def test_a_command_parses_to_the_fields_slack_sent(text: str) -> None:
    body = _command(text)

    assert parse_body(body_for_bolt(body, FORM), FORM) == dict(parse_qsl(body, keep_blank_values=True))


def test_bolt_alone_loses_a_command_that_mentions_payload() -> None:
    """The quirk ``body_for_bolt`` exists for; when Bolt fixes it, this fails and the module can go."""
    assert parse_body(_command("fixing the payload parser"), FORM) == {}


def test_an_interactive_payload_and_json_pass_unchanged() -> None:
    click = urlencode({"payload": json.dumps({"type": "block_actions", "note": "payload"})})
    event = json.dumps({"type": "event_callback", "text": "payload"})

    assert body_for_bolt(click, FORM) == click
    assert parse_body(body_for_bolt(click, FORM), FORM) == {"type": "block_actions", "note": "payload"}
    assert body_for_bolt(event, "application/json") == event
