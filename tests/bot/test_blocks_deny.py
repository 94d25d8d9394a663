"""The Deny button's reason modal, the approver's confirmation and the requester's DM with the reason."""

from __future__ import annotations

from bot.blocks.deny_modal import (
    DENY_CALLBACK_ID,
    REASON_ACTION,
    REASON_BLOCK,
    denied_by_you_message,
    deny_modal,
    deny_reason,
)
from bot.blocks.notices import denied_notice
from jit.deciding import MAX_DENY_REASON_CHARS
from jit.model import RequestState
from tests.bot.blocks_support import (
    HOSTILE,
    REQUESTER,
    access_request,
    all_text,
    assert_literal,
    check_message,
    check_view,
    decided,
    state_from_view,
    texts,
)


def test_the_deny_modal_asks_for_an_optional_reason_and_carries_the_request_id() -> None:
    request = access_request()

    view = deny_modal(request)

    check_view(view)
    assert (view["callback_id"], view["private_metadata"]) == (DENY_CALLBACK_ID, request.id)
    assert (view["submit"]["text"], view["close"]["text"]) == ("Deny", "Cancel")
    [reason] = [b for b in view["blocks"] if b["type"] == "input"]
    assert reason["optional"] is True and reason["block_id"] == REASON_BLOCK
    assert reason["element"]["max_length"] == MAX_DENY_REASON_CHARS and reason["element"]["multiline"] is True
    assert f"<@{REQUESTER}>'s request `{request.id}`" in "\n".join(texts(view["blocks"]))


def test_the_typed_reason_is_read_back_and_nothing_typed_is_no_reason() -> None:
    state = state_from_view(deny_modal(access_request()))
    assert deny_reason(state) == ""
    state["values"][REASON_BLOCK][REASON_ACTION]["value"] = "needs a ticket"
    assert deny_reason(state) == "needs a ticket"
    assert deny_reason({}) == ""


def test_the_requester_reads_the_reason_escaped_and_no_reason_line_without_one() -> None:
    with_reason = denied_notice(decided(RequestState.DENIED, extra={"deny_reason": f"no ticket {HOSTILE}"}))
    without = denied_notice(decided(RequestState.DENIED))

    check_message(with_reason)
    assert "*Their reason:* no ticket" in all_text(with_reason)
    assert_literal(all_text(with_reason))
    assert "Their reason" not in all_text(without)


def test_the_approver_sees_what_the_requester_was_told() -> None:
    message = denied_by_you_message(decided(RequestState.DENIED, extra={"deny_reason": "use the bastion"}))
    check_message(message)
    assert "They were told your reason: _use the bastion_" in all_text(message)
    assert "No reason was given" in all_text(denied_by_you_message(decided(RequestState.DENIED)))
