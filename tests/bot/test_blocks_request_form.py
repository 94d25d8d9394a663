"""The request form `/jit` alone opens, checked field by field with the command grammar."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.blocks.request_form import (
    DURATION_BLOCK,
    PORTS_BLOCK,
    REASON_BLOCK,
    REQUEST_CALLBACK_ID,
    SOURCE_BLOCK,
    VM_BLOCK,
    parse_request_form,
    request_form_modal,
)
from bot.grammar import RequestAccess
from tests.bot.blocks_support import check_view, set_value, state_from_view, texts


def _state(**typed: str) -> dict[str, Any]:
    state = state_from_view(request_form_modal(vm="web-01"))
    for block, value in typed.items():
        set_value(state, block, value)
    return state


def test_form_is_valid_and_prefilled() -> None:
    view = request_form_modal(vm="web-01", default_source="198.51.100.0/24")
    check_view(view)
    assert view["callback_id"] == REQUEST_CALLBACK_ID
    assert "198.51.100.0/24" in "\n".join(texts(view["blocks"]))
    check_view(request_form_modal())


def test_filled_in_form_gives_the_same_request_as_the_command() -> None:
    result = parse_request_form(
        _state(**{PORTS_BLOCK: "ssh, 8080", SOURCE_BLOCK: "10.1.2.0/24", REASON_BLOCK: "fix\n<!channel>\u202e"})
    )
    assert result == RequestAccess((22, 8080), "web-01", timedelta(hours=1), "10.1.2.0/24", "fix <!channel>")


def test_source_is_optional() -> None:
    result = parse_request_form(_state())
    assert isinstance(result, RequestAccess)
    assert result.source is None
    assert result.reason == ""


@pytest.mark.parametrize(
    ("block", "value", "message"),
    [
        (PORTS_BLOCK, "telnet", "telnet is not a port"),
        (PORTS_BLOCK, "", "one comma list"),
        (VM_BLOCK, "web 01", "Enter one VM"),
        (VM_BLOCK, "web!", "not a valid VM name"),
        (DURATION_BLOCK, "1m", "too short"),
        (DURATION_BLOCK, "", "how long"),
        (SOURCE_BLOCK, "10.1.2.3/24", "did you mean 10.1.2.0/24"),
        (REASON_BLOCK, "x" * 501, "under 500"),
    ],
)
def test_each_bad_field_gets_an_inline_error(block: str, value: str, message: str) -> None:
    result = parse_request_form(_state(**{block: value}))
    assert isinstance(result, dict)
    assert list(result) == [block]
    assert message in result[block]
    assert "`" not in result[block]


def test_malformed_state_gives_errors() -> None:
    result = parse_request_form({"values": None})
    assert isinstance(result, dict)
    assert {PORTS_BLOCK, VM_BLOCK, DURATION_BLOCK} <= set(result)
