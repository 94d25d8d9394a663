"""The request form `/jit` alone opens, checked field by field with the command grammar."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.blocks.errors import error_message
from bot.blocks.request_form import (
    DURATION_BLOCK,
    PORTS_BLOCK,
    REASON_BLOCK,
    REQUEST_CALLBACK_ID,
    SOURCE_BLOCK,
    VM_BLOCK,
    field_notes,
    parse_request_form,
    request_form_modal,
    typed_values,
)
from bot.grammar import RequestAccess
from jit.hints import Command, command_hint, request_hint
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


def test_the_form_comes_back_with_what_was_typed_the_refusal_on_top_and_notes_under_fields() -> None:
    typed = {PORTS_BLOCK: "rdp", VM_BLOCK: "web-01", DURATION_BLOCK: "5h", REASON_BLOCK: "INC-1 <!channel>"}
    refusal = error_message("Port 3389 is not in web-01's JIT policy.", "/jit ssh web-01 3h INC-1")

    view = request_form_modal(
        typed=typed, refusal=refusal, notes={PORTS_BLOCK: "Try `ssh`.", DURATION_BLOCK: "Try `3h`."}
    )

    check_view(view)
    assert typed_values(state_from_view(view)) == typed
    kinds = [(b["type"], b.get("block_id")) for b in view["blocks"]]
    assert kinds[0] == ("section", None) and "not in web-01's JIT policy" in view["blocks"][0]["text"]["text"]
    notes = {view["blocks"][i - 1]["block_id"]: b["elements"][0]["text"] for i, b in enumerate(view["blocks"])
             if b["type"] == "context" and b["elements"][0]["text"].startswith(":point_up:")}  # fmt: skip
    assert notes == {PORTS_BLOCK: ":point_up: Try `ssh`.", DURATION_BLOCK: ":point_up: Try `3h`."}


def test_field_notes_name_only_the_fields_a_suggestion_changes() -> None:
    typed = RequestAccess((3389, 8080), "web-01", timedelta(hours=5), "203.0.113.7", "checking")

    changed = field_notes(typed, request_hint((8080,), "web-01", timedelta(hours=1), "203.0.113.7", "checking"))

    assert changed == {PORTS_BLOCK: "Try `8080`.", DURATION_BLOCK: "Try `1h`."}
    assert field_notes(typed, command_hint(Command.LIST)) == {VM_BLOCK: "Check the VM's name: `/jit list` shows them."}
    assert field_notes(typed, command_hint(Command.STATUS)) == {}
    assert field_notes(typed, None) == {}
    reason = field_notes(typed, request_hint((3389, 8080), "web-01", timedelta(hours=5), None, "INC-1 checking"))
    assert reason == {REASON_BLOCK: "Try: `INC-1 checking`."}
