"""The lifecycle's messages: valid Block Kit, buttons only while something can still be decided, hostile text shown
literally, and the facts each reader needs."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from bot.blocks.lifecycle import (
    ACK_REVIEW_ACTION,
    approval_recorded_reply,
    break_glass_announcement,
    click_reply,
    escalation_card,
    escalation_note,
    extension_card,
    extension_outcome_notice,
    extension_requested_reply,
    nudge_message,
    principal,
    review_overdue_message,
    review_reply,
    revoke_reply,
)
from jit.model import AccessRequest, RequestState
from jit.request_extras import ExtensionState
from tests.bot.blocks_support import (
    APPROVER,
    HOSTILE,
    NOW,
    REQUESTER,
    access_request,
    all_text,
    assert_literal,
    buttons,
    check_message,
    decided,
)

OTHER = "U0APPROVE2"


def with_extension(state: ExtensionState | None, **extra: str) -> AccessRequest:
    values = {"ext_seq": "2", "ext_duration": "1800", "ext_by": REQUESTER, "ext_at": NOW.isoformat(), **extra}
    if state is not None:
        values["ext_state"] = state.value
    return decided(RequestState.ACTIVE, extra={"approvers": "S0APPROVRS", **values})


@pytest.mark.parametrize("state", list(ExtensionState))
def test_extension_card_has_buttons_only_while_pending(state: ExtensionState) -> None:
    request = with_extension(state, ext_decided_by=APPROVER, ext_failure="Azure said no")

    card = extension_card(request)

    check_message(card)
    values = {b["value"] for b in buttons(card.blocks)}
    if state is ExtensionState.PENDING:
        assert {b["action_id"] for b in buttons(card.blocks)} == {"jit_approve", "jit_deny"}
        assert values == {f"{request.id}#ext2"}
    else:
        assert buttons(card.blocks) == []
    text = all_text(card)
    assert "30m more" in text and request.id in text and f"<@{REQUESTER}>" in text


def test_extension_card_of_ended_access_offers_nothing() -> None:
    request = with_extension(ExtensionState.PENDING)
    ended = decided(RequestState.EXPIRED, extra=dict(request.extra))

    card = extension_card(ended)

    assert buttons(card.blocks) == []
    assert "no longer applies" in all_text(card)


def test_extension_card_shows_quorum_progress() -> None:
    request = with_extension(ExtensionState.PENDING, quorum="2", ext_approvals=APPROVER)

    text = all_text(extension_card(request))

    assert f"1 of 2 (<@{APPROVER}>)" in text


def test_extension_outcomes_name_who_decided() -> None:
    granted = all_text(extension_card(with_extension(ExtensionState.GRANTED, ext_decided_by=f"{APPROVER},{OTHER}")))
    assert f"<@{APPROVER}>, <@{OTHER}>" in granted and "Extended" in granted
    by_rule = all_text(
        extension_card(with_extension(ExtensionState.GRANTED, ext_decided_by="rule:web", ext_auto="web"))
    )
    assert "rule `web`" in by_rule
    denied = extension_outcome_notice(with_extension(ExtensionState.DENIED, ext_decided_by=OTHER))
    check_message(denied)
    assert "Denied" in all_text(denied) and "stays open until" in all_text(denied)


def test_hostile_text_in_reason_and_failure_stays_literal() -> None:
    request = with_extension(ExtensionState.FAILED, ext_failure=HOSTILE)
    request = replace(request, reason=HOSTILE)

    for message in (extension_card(request), extension_outcome_notice(request), break_glass_announcement(request)):
        check_message(message)
        assert_literal(all_text(message))


def test_replies_to_extend_say_what_happened() -> None:
    asked = extension_requested_reply(with_extension(ExtensionState.PENDING), created=True)
    again = extension_requested_reply(with_extension(ExtensionState.PENDING), created=False)
    auto = extension_requested_reply(with_extension(ExtensionState.GRANTED, ext_auto="web"), created=True)

    for message in (asked, again, auto):
        check_message(message)
    assert "Asked the approvers" in all_text(asked)
    assert "already waiting" in all_text(again)
    assert "approved by rule `web`" in all_text(auto)


def test_approval_recorded_reply_counts_the_right_approvals() -> None:
    pending = access_request(approvals=(APPROVER,), extra={"quorum": "3"})
    extension = with_extension(ExtensionState.PENDING, quorum="2", ext_approvals=OTHER)

    assert "1 of 3" in all_text(approval_recorded_reply(pending))
    assert "extension" in all_text(approval_recorded_reply(extension))
    assert "1 of 2" in all_text(click_reply(extension, recorded=True))
    assert "no longer waiting" in all_text(click_reply(with_extension(ExtensionState.DENIED), recorded=False))


@pytest.mark.parametrize(
    ("acted", "closed", "expected"),
    [(True, True, "not cut by Azure"), (True, False, "retrying"), (False, False, "no longer open")],
)
def test_revoke_reply(acted: bool, closed: bool, expected: str) -> None:
    request = decided(RequestState.REVOKED if acted else RequestState.EXPIRED)

    reply = revoke_reply(request, acted=acted, closed=closed)

    check_message(reply)
    assert expected in all_text(reply)


def test_nudge_mentions_groups_and_people_that_notify() -> None:
    request = access_request(extra={"approvers": "S0APPROVRS,U0APPROVE1,bogus", "quorum": "2"}, approvals=(APPROVER,))

    message = nudge_message(request, timedelta(minutes=15))

    check_message(message)
    text = all_text(message)
    assert "<!subteam^S0APPROVRS>" in text and "<@U0APPROVE1>" in text and "`bogus`" in text
    assert "15m" in text and "1 of 2" in text
    assert principal("<!channel>") == "`&lt;!channel&gt;`"
    assert principal("U0LEAD01&S0SECURTY") == "(<@U0LEAD01> and <!subteam^S0SECURTY>)"
    assert principal("nobody") == "_nobody_"


def test_escalation_card_keeps_the_decision_buttons_while_pending() -> None:
    request = access_request(extra={"approvers": "S0APPROVRS,U0ADMIN001", "escalate_to": "U0ADMIN001"})

    card = escalation_card(request, timedelta(minutes=15))
    done = escalation_card(decided(RequestState.DENIED, extra=dict(request.extra)), timedelta(0))

    check_message(card)
    assert {b["action_id"] for b in buttons(card.blocks)} == {"jit_approve", "jit_deny"}
    assert "Escalated" in all_text(card) and "<@U0ADMIN001>" in all_text(card)
    check_message(done)
    assert buttons(done.blocks) == [] and "now decided" in all_text(done)
    note = escalation_note(request, "C0ONCALL01")
    assert "<#C0ONCALL01>" in all_text(note)
    assert "<#" not in all_text(escalation_note(request, "#not-an-id"))


def _glass(**extra: Any) -> AccessRequest:
    return decided(
        RequestState.ACTIVE, approver=None, extra={"break_glass": "true", "approvers": "S0APPROVRS", **extra}
    )


def test_break_glass_announcement_asks_for_review_until_someone_did() -> None:
    waiting = break_glass_announcement(_glass(review_within="1800"))
    reviewed = break_glass_announcement(_glass(reviewed_by=APPROVER, reviewed_at=NOW.isoformat()))

    check_message(waiting)
    check_message(reviewed)
    assert [b["action_id"] for b in buttons(waiting.blocks)] == [ACK_REVIEW_ACTION]
    assert "within 30m" in all_text(waiting) and "<!subteam^S0APPROVRS>" in all_text(waiting)
    assert buttons(reviewed.blocks) == [] and f"Reviewed by <@{APPROVER}>" in all_text(reviewed)
    failed = break_glass_announcement(decided(RequestState.FAILED, extra={"break_glass": "true"}))
    assert "Azure refused it" in all_text(failed)


def test_review_overdue_and_review_reply() -> None:
    request = _glass(escalate_to="S0LEADS")

    overdue = review_overdue_message(request, 3)

    check_message(overdue)
    assert "reminder 3" in all_text(overdue) and "<!subteam^S0LEADS>" in all_text(overdue)
    assert f"anyone of you but <@{request.requester}>" in all_text(overdue), "its user may not review it"
    assert [b["action_id"] for b in buttons(overdue.blocks)] == [ACK_REVIEW_ACTION]
    assert "recorded" in all_text(review_reply(request, acted=True))
    assert f"<@{APPROVER}>" in all_text(review_reply(_glass(reviewed_by=APPROVER), acted=False))


def test_the_overdue_review_never_asks_the_person_who_used_break_glass() -> None:
    own = decided(
        RequestState.ACTIVE,
        requester="U0ADMIN001",
        approver=None,
        extra={"break_glass": "true", "approvers": "S0APPROVRS,U0ADMIN001", "escalate_to": "U0ADMIN001"},
    )
    overdue = review_overdue_message(own, 1)
    check_message(overdue)
    text = all_text(overdue)
    asked = text.split("please review it")[0].split("without approval.")[1]
    assert "<@U0ADMIN001>" not in asked and "<!subteam^S0APPROVRS>" in asked
    assert "anyone of you but <@U0ADMIN001>, who used it" in text
    alone = decided(
        RequestState.ACTIVE,
        requester="U0ADMIN001",
        approver=None,
        extra={"break_glass": "true", "approvers": "U0ADMIN001"},
    )
    assert "other than <@U0ADMIN001>, who used it, must review it" in all_text(review_overdue_message(alone, 1))
