"""DMs and on-call posts: connection details, reminders with Extend/Revoke, expiry, refusals."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from bot.blocks.notices import (
    EXTEND_ACTION,
    REVOKE_ACTION,
    access_ended_post,
    approved_notice,
    expired_notice,
    offers_extend_or_close,
    outcome_notice,
    reminder_notice,
    revoked_notice,
)
from jit.model import RequestState, VirtualMachine
from tests.bot.blocks_support import (
    HOSTILE,
    NOW,
    REQUESTER,
    access_request,
    all_text,
    buttons,
    check_message,
    decided,
    vm_ref,
)


def test_approved_notice_says_what_to_connect_to_and_until_when() -> None:
    vm = VirtualMachine(ref=vm_ref(), private_ips=("10.0.0.4",), public_ips=("20.1.2.3",))
    request = decided(RequestState.ACTIVE, ports=(22, 3389))
    notice = approved_notice(request, vm)
    check_message(notice)
    text = all_text(notice)
    for piece in ("`20.1.2.3`", "`10.0.0.4`", "22 (SSH), 3389 (RDP)", "`203.0.113.7`", "until <!date^",
                  "ssh &lt;user&gt;@20.1.2.3", "Remote Desktop to `20.1.2.3:3389`"):  # fmt: skip
        assert piece in text
    assert {b["action_id"]: b["value"] for b in buttons(notice.blocks)} == {
        EXTEND_ACTION: request.id,
        REVOKE_ACTION: request.id,
    }
    assert "is open until" in notice.text


def test_approved_notice_falls_back_to_addresses_stored_on_the_request() -> None:
    request = decided(RequestState.ACTIVE, extra={"private_ips": "10.0.0.9,10.0.0.10"})
    text = all_text(approved_notice(request))
    assert "`10.0.0.9`, `10.0.0.10`" in text
    assert "ssh &lt;user&gt;@10.0.0.9" in text
    bare = all_text(approved_notice(decided(RequestState.ACTIVE)))
    assert "_unknown_" in bare
    assert "*Connect*" not in bare


def test_ipv6_addresses_are_bracketed_for_rdp() -> None:
    vm = VirtualMachine(ref=vm_ref(), public_ips=("2001:db8::5",))
    text = all_text(approved_notice(decided(RequestState.ACTIVE, ports=(3389,)), vm))
    assert "`[2001:db8::5]:3389`" in text


def test_reminder_for_the_requester_has_extend_and_revoke_with_the_request_id() -> None:
    request = decided(RequestState.ACTIVE, ends_at=NOW + timedelta(minutes=15))
    reminder = reminder_notice(request, now=NOW)
    check_message(reminder)
    assert [(b["action_id"], b["value"]) for b in buttons(reminder.blocks)] == [
        (EXTEND_ACTION, request.id),
        (REVOKE_ACTION, request.id),
    ]
    text = all_text(reminder)
    assert "15m left" in text
    assert "/jit extend jr-4kQ9xZ2mP7sT 1h" in text
    assert reminder.text == "Your access to web-01 closes in 15m."


def test_reminder_for_oncall_names_requester_vm_and_ports() -> None:
    request = decided(RequestState.ACTIVE, ends_at=NOW + timedelta(minutes=15), ports=(22, 8080))
    reminder = reminder_notice(request, now=NOW, oncall=True)
    check_message(reminder)
    text = all_text(reminder)
    assert f"<@{REQUESTER}>'s access" in text
    assert "22 (SSH), 8080 on `web-01`" in text
    assert [b["action_id"] for b in buttons(reminder.blocks)] == [REVOKE_ACTION]


def test_expiry_notices_for_requester_and_oncall() -> None:
    request = decided(RequestState.EXPIRED, ports=(5985, 5986))
    mine = expired_notice(request)
    check_message(mine)
    assert "Your access to 5985 (WinRM), 5986 (WinRM over HTTPS) on `web-01` ended" in all_text(mine)
    assert "/jit winrm web-01 2h" in all_text(mine)
    theirs = expired_notice(request, oncall=True)
    assert f"<@{REQUESTER}>'s access" in all_text(theirs)
    assert "/jit winrm" not in all_text(theirs)
    assert buttons(mine.blocks) == []


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (RequestState.ACTIVE, "is open"),
        (RequestState.DENIED, "denied your request"),
        (RequestState.FAILED, "Azure could not open access"),
        (RequestState.TIMED_OUT, "timed out"),
        (RequestState.CANCELLED, "is cancelled"),
        (RequestState.REVOKED, "was closed early"),
        (RequestState.EXPIRED, "ended"),
        (RequestState.APPROVED, "Opening access"),
        (RequestState.PENDING, "Waiting for approval"),
    ],
)
def test_outcome_notice_fits_each_state(state: RequestState, expected: str) -> None:
    request = access_request() if state is RequestState.PENDING else decided(state)
    notice = outcome_notice(request)
    check_message(notice)
    assert expected in all_text(notice)


def test_failed_notice_gives_azure_reason_in_plain_words() -> None:
    text = all_text(outcome_notice(decided(RequestState.FAILED)))
    assert "port 22 is not in the VM's JIT policy" in text
    assert "Nothing is open" in text


def test_hostile_text_in_notices_is_literal() -> None:
    for state in (RequestState.FAILED, RequestState.DENIED, RequestState.ACTIVE, RequestState.REVOKED):
        request = decided(state, failure=HOSTILE, reason=HOSTILE, extra={"revoked_by": "<!channel>"})
        notice = outcome_notice(request)
        check_message(notice)
        assert "<!channel>" not in all_text(notice)


def test_revoked_notice_names_who_closed_it() -> None:
    request = decided(RequestState.REVOKED, extra={"revoked_by": "U0ONCALL01"})
    assert "*Access revoked* by <@U0ONCALL01>" in all_text(revoked_notice(request))
    assert f"<@{REQUESTER}>'s access" in all_text(revoked_notice(request, oncall=True))


def test_notices_about_break_glass_access_are_flagged() -> None:
    notice = revoked_notice(decided(RequestState.REVOKED, reason="db down", extra={"break_glass": "true"}))
    assert "break-glass" in notice.blocks[-1]["elements"][0]["text"]
    plain = revoked_notice(decided(RequestState.REVOKED, reason="db down"))
    assert "break-glass" not in plain.blocks[-1]["elements"][0]["text"]


@pytest.mark.parametrize("state", [RequestState.EXPIRED, RequestState.REVOKED, RequestState.SUPERSEDED])
def test_a_post_whose_access_ended_says_how_and_offers_no_buttons(state: RequestState) -> None:
    ended = access_ended_post(decided(state))
    check_message(ended)
    assert not offers_extend_or_close(ended) and buttons(ended.blocks) == []
    assert offers_extend_or_close(approved_notice(decided(RequestState.ACTIVE)))
    assert not offers_extend_or_close(outcome_notice(decided(RequestState.SUPERSEDED))), "Ask again stays"
    assert "jr-4kQ9xZ2mP7sT" in all_text(ended) and "Extend and Close are gone" in all_text(ended)


@pytest.mark.parametrize("state", list(RequestState), ids=[s.value for s in RequestState])
def test_no_dm_repeats_an_emoji(state: RequestState) -> None:
    request = decided(state) if state is not RequestState.PENDING else access_request()
    shown = [outcome_notice(request), revoked_notice(request), revoked_notice(request, oncall=True)]
    for message in shown:
        for block in all_text(message).split("\n"):
            codes = re.findall(r":[a-z_]+:", block)
            assert len(codes) == len(set(codes)), block
