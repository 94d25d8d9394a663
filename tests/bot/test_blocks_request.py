"""The approval card in every state, and the requester's confirmation."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.blocks.card_context import history_line
from bot.blocks.request import (
    APPROVE_ACTION,
    DENY_ACTION,
    approval_card,
    cancel_reply,
    requester_confirmation,
)
from jit.card_context import RequesterHistory, card_context_extras
from jit.model import RequestState
from jit.vm_security import (
    ContextPart,
    DefenderRecommendation,
    PowerState,
    SecurityContext,
    SecuritySeverity,
    VmProfile,
    VmRuntime,
)
from tests.bot.blocks_support import (
    HOSTILE,
    NOW,
    REQUESTER,
    SUB,
    access_request,
    all_text,
    assert_literal,
    buttons,
    check_message,
    decided,
    vm_ref,
)

LATER_STATES = [s for s in RequestState if s is not RequestState.PENDING]


def test_pending_card_has_every_fact_and_approve_deny_buttons_carrying_the_request_id() -> None:
    card = approval_card(access_request(ports=(22, 8080), source="10.1.2.0/24"))
    check_message(card)
    text = all_text(card)
    for fact in (f"<@{REQUESTER}>", "`web-01`", "`prod-rg`", SUB, "`westeurope`", "22 (SSH), 8080", "`10.1.2.0/24`",
                 "2h", "fixing deploy", "jr-4kQ9xZ2mP7sT", "<!date^"):  # fmt: skip
        assert fact in text
    found = {b["action_id"]: b for b in buttons(card.blocks)}
    assert set(found) == {APPROVE_ACTION, DENY_ACTION}
    assert found[APPROVE_ACTION]["value"] == found[DENY_ACTION]["value"] == "jr-4kQ9xZ2mP7sT"
    assert found[APPROVE_ACTION]["style"] == "primary"
    assert found[DENY_ACTION]["style"] == "danger"


@pytest.mark.parametrize("state", LATER_STATES, ids=[s.value for s in LATER_STATES])
def test_decided_cards_keep_the_facts_show_the_outcome_and_have_no_buttons(state: RequestState) -> None:
    card = approval_card(decided(state))
    check_message(card)
    assert buttons(card.blocks) == []
    assert not [b for b in card.blocks if b["type"] == "actions"]
    text = all_text(card)
    assert "`web-01`" in text
    assert "jr-4kQ9xZ2mP7sT" in text
    assert "fixing deploy" in text


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (RequestState.APPROVED, ["*Approved* by <@U0APPROVE1>", "Opening access"]),
        (RequestState.ACTIVE, ["*Access open*", "until <!date^", "Approved by <@U0APPROVE1>"]),
        (RequestState.EXPIRED, ["*Access ended*", "approved by <@U0APPROVE1>"]),
        (RequestState.DENIED, ["*Denied* by <@U0APPROVE1>"]),
        (RequestState.CANCELLED, ["*Cancelled* by the requester"]),
        (RequestState.TIMED_OUT, ["*Timed out*", "nobody approved"]),
        (RequestState.FAILED, ["*Failed*", "port 22 is not in the VM's JIT policy"]),
        (RequestState.REVOKED, ["*Access revoked*", "not cut"]),
    ],
)
def test_each_outcome_names_who_when_and_until(state: RequestState, expected: list[str]) -> None:
    card = approval_card(decided(state))
    text = all_text(card)
    for piece in expected:
        assert piece in text
    outcome = card.blocks[-2]["text"]["text"]
    assert "<!date^" in outcome


def test_active_card_shows_end_time() -> None:
    request = decided(RequestState.ACTIVE)
    assert request.ends_at is not None
    assert f"<!date^{int(request.ends_at.timestamp())}^" in all_text(approval_card(request))


def test_hostile_reason_requester_and_failure_render_literally() -> None:
    for request in (
        access_request(reason=HOSTILE),
        decided(RequestState.FAILED, reason=HOSTILE, failure=HOSTILE),
        decided(RequestState.DENIED, reason=HOSTILE),
    ):
        card = approval_card(request)
        check_message(card)
        assert_literal(all_text(card))
    card = approval_card(access_request(requester="<!channel>", approvals=("<!here>",), extra={"quorum": "2"}))
    text = all_text(card)
    assert "<!channel>" not in text
    assert "<!here>" not in text


def test_multiline_reason_cannot_forge_lines_on_the_card() -> None:
    card = approval_card(access_request(reason="ok\n\n:white_check_mark: *Approved* by <@U0BOSS123>"))
    reason_block = next(b for b in card.blocks if "*Reason*" in b.get("text", {}).get("text", ""))
    assert reason_block["text"]["text"].count("\n") == 1
    assert "<@U0BOSS123>" not in all_text(card)


def test_long_reason_is_truncated_within_limits() -> None:
    card = approval_card(access_request(reason="word " * 2000, failure="f" * 5000))
    check_message(card)
    assert "…" in all_text(card)
    check_message(approval_card(decided(RequestState.FAILED, failure="f" * 5000)))


def test_quorum_shows_approvals_so_far() -> None:
    card = approval_card(access_request(approvals=("U0FIRST01",), extra={"quorum": "2"}))
    text = all_text(card)
    assert "*Approvals:* 1 of 2 (<@U0FIRST01>)" in text
    assert len(buttons(card.blocks)) == 2
    none_yet = all_text(approval_card(access_request(extra={"quorum": "3"})))
    assert "0 of 3 (nobody yet)" in none_yet
    active = all_text(approval_card(decided(RequestState.ACTIVE, approvals=("U0FIRST01", "U0SECOND1"),
                                            extra={"quorum": "2"})))  # fmt: skip
    assert "Approved by <@U0FIRST01>, <@U0SECOND1>" in active


def test_single_approver_requests_have_no_quorum_line() -> None:
    assert "Approvals:" not in all_text(approval_card(access_request()))


def test_auto_approved_and_break_glass_banners() -> None:
    auto = all_text(approval_card(decided(RequestState.ACTIVE, approver=None, extra={"auto_approved": "oncall-night"})))
    assert "*Auto-approved* by rule `oncall-night`" in auto
    assert "Approved by rule `oncall-night`" in auto
    glass = approval_card(decided(RequestState.ACTIVE, approver=None, extra={"break_glass": "true"}))
    glass_text = all_text(glass)
    assert "Break-glass access" in glass.blocks[0]["text"]["text"]
    assert ":rotating_light:" in glass_text
    assert glass.text.startswith("Break-glass")
    assert "Break-glass" not in all_text(approval_card(access_request(extra={"break_glass": "no"})))


def test_extensions_are_shown() -> None:
    text = all_text(approval_card(decided(RequestState.ACTIVE, extra={"extensions": "2"})))
    assert "Extended 2 times." in text


def test_fallback_text_names_requester_vm_and_state() -> None:
    assert (
        approval_card(access_request()).text
        == f"<@{REQUESTER}> requests 22 (SSH) on web-01 for 2h: waiting for approval"
    )
    assert approval_card(decided(RequestState.DENIED)).text.endswith(": denied")


def test_requester_confirmation_has_the_request_id_and_where_it_went() -> None:
    confirmation = requester_confirmation(access_request(card_channel="C0APPROVALS", duration=timedelta(minutes=90)))
    check_message(confirmation)
    text = all_text(confirmation)
    assert "`jr-4kQ9xZ2mP7sT`" in text
    assert "<#C0APPROVALS>" in text
    assert "1h 30m" in text
    assert "/jit cancel jr-4kQ9xZ2mP7sT" in text
    again = all_text(requester_confirmation(access_request(), already_pending=True))
    assert "already have this request waiting" in again


def test_a_decided_request_shows_only_approvals_that_happened() -> None:
    glass = all_text(approval_card(decided(RequestState.ACTIVE, approver=None, approvals=(),
                                           extra={"break_glass": "true", "quorum": "2"})))  # fmt: skip
    assert "Access open" in glass and "Approvals:" not in glass and "nobody yet" not in glass
    for state in (RequestState.TIMED_OUT, RequestState.CANCELLED, RequestState.DENIED):
        assert "nobody yet" not in all_text(approval_card(decided(state, approvals=(), extra={"quorum": "2"})))
    partly = all_text(approval_card(decided(RequestState.DENIED, approvals=("U0FIRST01",), extra={"quorum": "2"})))
    assert "*Approvals:* 1 of 2 (<@U0FIRST01>)" in partly


@pytest.mark.parametrize(
    ("request_extra", "state"),
    [({"auto_approved": "oncall-night"}, RequestState.ACTIVE), ({"break_glass": "true"}, RequestState.ACTIVE),
     ({"break_glass": "true"}, RequestState.APPROVED)],
)  # fmt: skip
def test_a_request_granted_at_once_is_not_confirmed_as_waiting(
    request_extra: dict[str, str], state: RequestState
) -> None:
    confirmation = requester_confirmation(decided(state, approver=None, extra=request_extra))
    check_message(confirmation)
    text = all_text(confirmation)
    assert "/jit cancel" not in text and "when it is decided" not in text
    if state is RequestState.ACTIVE:
        assert "`/jit revoke jr-4kQ9xZ2mP7sT`" in text


def test_a_finished_request_offers_no_next_step() -> None:
    for state in (RequestState.DENIED, RequestState.EXPIRED, RequestState.CANCELLED, RequestState.FAILED):
        text = all_text(requester_confirmation(decided(state)))
        assert "/jit cancel" not in text and "/jit revoke" not in text


def test_cancel_says_what_happened_this_time() -> None:
    first = cancel_reply(decided(RequestState.CANCELLED), acted=True)
    again = cancel_reply(decided(RequestState.CANCELLED), acted=False)
    check_message(first)
    check_message(again)
    assert "is cancelled" in all_text(first)
    assert "already cancelled" in all_text(again)
    for reply in (first, again):
        assert "/jit cancel" not in all_text(reply) and "when it is decided" not in all_text(reply)


def test_cancel_of_a_request_decided_meanwhile_says_its_state_and_what_it_allows() -> None:
    active = all_text(cancel_reply(decided(RequestState.ACTIVE), acted=False))
    assert "can no longer be cancelled" in active and "Access open" in active
    assert "`/jit revoke jr-4kQ9xZ2mP7sT`" in active
    denied = all_text(cancel_reply(decided(RequestState.DENIED), acted=False))
    assert "*Denied*" in denied and "/jit" not in denied


def test_the_card_shows_the_security_context_and_history_it_was_posted_with() -> None:
    security = SecurityContext(
        vm=vm_ref(),
        read_at=NOW,
        recommendations=ContextPart.read((DefenderRecommendation("Vulnerabilities found", SecuritySeverity.HIGH),)),
        alerts=ContextPart.read(()),
        runtime=ContextPart.read(VmRuntime(PowerState.DEALLOCATED)),
        profile=ContextPart.read(VmProfile(("20.61.10.4",), "Linux")),
    )
    history = RequesterHistory(3, NOW - timedelta(days=2))
    extra = {field.removeprefix("extra."): value for field, value in card_context_extras(security, history).items()}

    for card in (approval_card(access_request(extra=extra)), approval_card(decided(RequestState.ACTIVE, extra=extra))):
        check_message(card)
        text = all_text(card)
        for fact in ("Vulnerabilities found", "Stopped (deallocated)", "20.61.10.4", "3 grants in the last 30 days"):
            assert fact in text


def test_a_first_request_says_so_and_a_card_without_context_leaves_the_section_out() -> None:
    first = RequesterHistory(0, None)
    assert "no earlier access" in history_line(first)
    plain = all_text(approval_card(access_request()))
    assert "history here" not in plain and "Defender" not in plain


@pytest.mark.parametrize("state", list(RequestState), ids=[s.value for s in RequestState])
def test_the_confirmation_offers_only_what_the_state_allows(state: RequestState) -> None:
    request = decided(state) if state is not RequestState.PENDING else access_request()

    text = all_text(requester_confirmation(request))

    assert ("/jit cancel" in text) == (state is RequestState.PENDING)
    assert ("when it is decided" in text) == (state is RequestState.PENDING)
    assert ("/jit revoke" in text) == (state is RequestState.ACTIVE)


@pytest.mark.parametrize("extra", [{"break_glass": "true"}, {"auto_approved": "lab"}], ids=["break-glass", "auto"])
def test_a_grant_nobody_approved_shows_no_approval_count(extra: dict[str, str]) -> None:
    request = decided(RequestState.ACTIVE, approvals=(), extra={"quorum": "2", **extra})

    text = all_text(approval_card(request))

    assert "Approvals:" not in text and "nobody yet" not in text
