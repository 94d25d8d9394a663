"""A whole flow at DEBUG level: every line is JSON with a request id, and no secret ever appears."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot.logs import Redactor, configure_logging
from sandbox.slack_workspace import APPROVER_1, ENGINEER
from sandbox.stack import Stack
from tests.e2e.flow import dm_to, driver_of, request_card, wait_card_decided


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    yield stream
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved[0]:
        root.addHandler(handler)
    root.setLevel(saved[1])


async def test_debug_flow_logs_json_with_request_ids_and_no_secrets(stack: Stack, captured: io.StringIO) -> None:
    secrets = [stack.slack.workspace.token, stack.signing_secret, stack.env["IDENTITY_HEADER"]]
    configure_logging("DEBUG", secrets, stream=captured)

    card, request_id = await request_card(stack, ENGINEER, "ssh web-01 1h logging test")
    await driver_of(stack).click(APPROVER_1, card, "jit_approve", request_id)
    await wait_card_decided(stack, card)
    await dm_to(stack, ENGINEER, "is open")

    output = captured.getvalue()
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]
    assert len(lines) > 20, "DEBUG logging of a whole flow says a lot"
    assert all("request_id" in line and "event" in line for line in lines)
    assert any(line["request_id"] == request_id for line in lines)
    for secret in secrets:
        assert secret not in output
    assert "v0=" not in output
    assert "Bearer " not in output and "bearer " not in output.lower().replace("bearer [redacted]", "")


def test_redactor_removes_tokens_signatures_and_known_secrets() -> None:
    redact = Redactor(["super-secret-value"])
    text = (
        "xoxb-123-456-abc xapp-1-A-2 v0=0123456789abcdef0123 Authorization: Bearer eyJ.abc.def "
        'client_secret=hunter2 {"access_token": "tok123"} super-secret-value'
    )
    cleaned = redact(text)
    for leaked in ("xoxb-123", "xapp-1", "v0=0123", "eyJ.abc", "hunter2", "tok123", "super-secret-value"):
        assert leaked not in cleaned
