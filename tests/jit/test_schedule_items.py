"""Schedule kinds and "already sent" markers: keys that parse back, markers that tell distinct events apart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from jit.model import RequestState
from jit.schedule_items import (
    SYNC_ITEM,
    SYNC_SINCE,
    Kind,
    Sent,
    ended_items,
    has_work,
    item,
    parse_item,
    pointless_items,
)


@pytest.mark.parametrize("kind", list(Kind))
def test_every_kind_makes_a_key_that_parses_back(kind: Kind) -> None:
    key = item(kind, "jr-abc_DEF-1")

    assert key == f"{kind.value}:jr-abc_DEF-1"
    assert parse_item(key) == (kind, "jr-abc_DEF-1")


def test_kinds_are_distinct_and_cannot_contain_the_separator() -> None:
    values = [kind.value for kind in Kind]
    assert len(set(values)) == len(values)
    assert all(":" not in value and value for value in values)


@pytest.mark.parametrize("key", [SYNC_ITEM, SYNC_SINCE, "card:", "nonsense:jr-1", "card", "", ":jr-1"])
def test_anything_else_is_not_a_request_item(key: str) -> None:
    assert parse_item(key) is None


def test_an_ended_grant_drops_its_reminder_expiry_and_extension_timeout() -> None:
    assert ended_items("jr-1") == ["remind:jr-1", "expire:jr-1", "exttimeout:jr-1"]


def test_markers_tell_apart_what_must_be_told_separately() -> None:
    end = datetime(2026, 12, 1, 11, 0, tzinfo=UTC)
    start = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    markers = [
        Sent.outcome("active", "jr-1"),
        Sent.outcome("expired", "jr-1"),
        Sent.outcome("active", "jr-2"),
        Sent.queued("jr-1", "2026-12-01T10:00:00+00:00"),
        Sent.queued("jr-1", "2026-12-01T10:30:00+00:00"),
        Sent.reminder("jr-1", end),
        Sent.reminder("jr-1", end + timedelta(hours=1)),
        Sent.reminder("jr-1", None),
        Sent.expired("jr-1"),
        Sent.nudge("jr-1", 0),
        Sent.nudge("jr-1", 1),
        Sent.escalation("jr-1"),
        Sent.break_glass("jr-1"),
        Sent.review_overdue("jr-1", 1),
        Sent.review_overdue("jr-1", 2),
        Sent.review_shown("jr-1"),
        Sent.closed("jr-1"),
        Sent.revoked_to_on_call("jr-1"),
        Sent.superseded_to_on_call("jr-1"),
        Sent.ports_lost("jr-1", "1"),
        Sent.ports_lost("jr-1", "2"),
        Sent.outside_closed("jr-1"),
        Sent.extension_outcome("jr-1", 1, "granted"),
        Sent.extension_outcome("jr-1", 2, "granted"),
        Sent.extension_outcome("jr-1", 2, "denied"),
        Sent.outside_access("/subscriptions/S/vm", 22, start),
        Sent.outside_access("/subscriptions/S/vm", 3389, start),
        Sent.outside_access("/subscriptions/S/vm", 22, start + timedelta(minutes=1)),
    ]

    assert len(set(markers)) == len(markers)


def test_an_outside_sighting_is_one_marker_however_azure_cases_the_vm() -> None:
    start = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

    assert Sent.outside_access("/subscriptions/S/VM-1", 22, start) == Sent.outside_access(
        "/subscriptions/s/vm-1", 22, start
    )


def test_approver_reminders_have_work_only_while_a_request_waits() -> None:
    for state in RequestState:
        waiting = state is RequestState.PENDING
        assert has_work(Kind.NUDGE, state) is waiting and has_work(Kind.ESCALATE, state) is waiting
    assert has_work(Kind.REMIND, RequestState.ACTIVE) and not has_work(Kind.REMIND, RequestState.REVOKED)
    assert has_work(Kind.OUTCOME, RequestState.EXPIRED) and has_work(Kind.CARD, RequestState.CANCELLED)


def test_a_move_keeps_the_item_that_makes_it_and_any_it_schedules() -> None:
    assert item(Kind.TIMEOUT, "jr-1") not in pointless_items("jr-1", RequestState.TIMED_OUT)
    assert item(Kind.EXPIRE, "jr-1") not in pointless_items("jr-1", RequestState.EXPIRED)
    assert item(Kind.TIMEOUT, "jr-1") in pointless_items("jr-1", RequestState.CANCELLED)
    assert pointless_items("jr-1", RequestState.PENDING, keep=[item(Kind.REMIND, "jr-1")]) == [
        item(Kind.EXPIRE, "jr-1")
    ]
