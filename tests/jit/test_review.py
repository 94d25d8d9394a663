"""The access review's rules, checked on a hand-built week (tests/jit/review_support.py) and small cases."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from jit.model import RequestState
from jit.request_extras import TRUE, Extra
from jit.review import ReviewPeriod, build_review, vm_key, vm_labels
from tests.jit.review_support import (
    ALICE,
    APP,
    BOB,
    CAROL,
    DAVE,
    DB,
    ERIN,
    WEB,
    WEEK,
    at,
    grant,
    outside_record,
    vm,
    week_audit,
    week_inventory,
    week_requests,
    week_review,
)

H = timedelta(hours=1)


# -- the period ---------------------------------------------------------------------------------------


def test_week_before_is_the_seven_whole_utc_days_before_today() -> None:
    assert (WEEK.start, WEEK.end) == (at(3, 0), at(10, 0))
    assert WEEK.days == tuple(date(2025, 3, day) for day in range(3, 10))


def test_last_days_ends_now_and_starts_at_a_midnight() -> None:
    now = datetime(2025, 3, 10, 9, 30, tzinfo=UTC)
    period = ReviewPeriod.last_days(7, now)
    assert (period.start, period.end) == (at(4, 0), now)
    assert len(period.days) == 7
    assert ReviewPeriod.last_days(1, now).days == (date(2025, 3, 10),)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (at(3, 0), at(3, 0)),
        (at(4, 0), at(3, 0)),
        (datetime(2025, 3, 3), at(4, 0)),
    ],
)
def test_a_period_must_be_aware_and_end_after_it_starts(start: datetime, end: datetime) -> None:
    with pytest.raises(ValueError, match="review period"):
        ReviewPeriod(start, end)


def test_last_days_needs_at_least_one_day() -> None:
    with pytest.raises(ValueError, match="at least one day"):
        ReviewPeriod.last_days(0, at(3, 0))


# -- grants and open time -----------------------------------------------------------------------------


def test_each_grant_is_open_until_its_end_or_its_revoke_or_supersede_clipped_to_the_period() -> None:
    review = week_review()
    by_id = {g.request_id: g for g in review.grants}
    assert {key: g.open_time for key, g in by_id.items()} == {
        "g-before": 2 * H,
        "g-alice1": 2 * H,
        "g-glass1": 2 * H,
        "g-revoke": 1.5 * H,
        "g-super": 0.75 * H,
        "g-glass2": 1 * H,
        "g-late": 1 * H,
    }
    assert by_id["g-revoke"].closed == at(6, 9, 30)
    assert by_id["g-super"].closed == at(7, 10, 45)
    assert by_id["g-late"].closed == at(10, 3), "the raw row keeps the real end; only the hours are clipped"
    assert review.open_hours == pytest.approx(10.25)
    assert [g.request_id for g in review.grants] == [
        "g-before",
        "g-alice1",
        "g-glass1",
        "g-revoke",
        "g-super",
        "g-glass2",
        "g-late",
    ]


def test_a_grant_row_carries_who_what_from_where_and_who_let_it_in() -> None:
    by_id = {g.request_id: g for g in week_review().grants}
    alice = by_id["g-alice1"]
    assert (alice.requester, alice.vm, alice.ports, alice.source) == (ALICE, WEB, (22, 8080), "198.51.100.0/24")
    assert (alice.approved_by, alice.state, alice.break_glass, alice.reviewed_by) == (
        BOB,
        RequestState.EXPIRED,
        False,
        None,
    )
    glass = by_id["g-glass1"]
    assert (glass.approved_by, glass.break_glass, glass.reviewed_by) == ("break-glass", True, BOB)


def test_requests_azure_never_opened_are_not_grants() -> None:
    ids = {g.request_id for g in week_review().grants}
    assert ids.isdisjoint({"r-pending", "r-cancel", "r-failed", "r-denied", "r-timeout", "g-lastweek"})


def test_a_grant_without_a_recorded_end_counts_until_the_period_ends() -> None:
    open_ended = grant("g-open", ALICE, WEB, at(9, 20), at(9, 21), RequestState.ACTIVE, ends_at=None)
    [row] = build_review(WEEK, [open_ended], [], []).grants
    assert (row.closed, row.open_time) == (None, 4 * H)


def test_a_request_passed_twice_counts_once() -> None:
    once = grant("g-1", ALICE, WEB, at(3, 10), at(3, 12))
    assert build_review(WEEK, [once, once], [], []).open_time == 2 * H


def test_a_revoke_recorded_before_the_start_leaves_no_open_time() -> None:
    odd = grant("g-odd", ALICE, WEB, at(3, 10), at(3, 12), RequestState.REVOKED, decided_at=at(3, 9))
    [row] = build_review(WEEK, [odd], [], []).grants
    assert (row.closed, row.open_time) == (at(3, 10), timedelta(0))


def test_open_time_per_day_is_split_at_midnight_and_stacked_by_vm() -> None:
    review = week_review()
    daily = {d.day.day: {key: span / H for key, span in d.by_vm.items()} for d in review.days}
    web, db, app = vm_key(WEB.id), vm_key(DB.id), vm_key(APP.id)
    assert daily == {
        3: {web: 4.0},
        4: {db: 1.0},
        5: {db: 1.0},
        6: {web: 1.5},
        7: {db: 0.75},
        8: {app: 1.0},
        9: {db: 1.0},
    }
    assert sum((d.total for d in review.days), timedelta(0)) == review.open_time


def test_totals_per_vm_and_per_person_most_open_first() -> None:
    review = week_review()
    assert [(t.label, t.grants, t.hours) for t in review.vms] == [
        ("web-01", 3, 5.5),
        ("db-01", 3, 3.75),
        ("app-01", 1, 1.0),
    ]
    assert [(t.person, t.grants, t.hours) for t in review.people] == [
        (ALICE, 3, 4.5),
        (ERIN, 2, 4.0),
        (DAVE, 1, 1.0),
        (CAROL, 1, 0.75),
    ]


# -- break-glass, refusals ----------------------------------------------------------------------------


def test_break_glass_uses_and_their_review_state() -> None:
    review = week_review()
    assert [(u.request_id, u.requester, u.reviewed, u.reviewed_by) for u in review.break_glass] == [
        ("g-glass1", ERIN, True, BOB),
        ("g-glass2", DAVE, False, None),
    ]
    assert review.break_glass[0].reviewed_at == at(5, 2)
    assert [u.request_id for u in review.unreviewed_break_glass] == ["g-glass2"]


def test_a_break_glass_request_that_failed_in_the_period_is_still_a_use() -> None:
    failed = replace(
        week_requests()[0],
        id="g-failed-glass",
        state=RequestState.FAILED,
        starts_at=None,
        ends_at=None,
        created_at=at(4, 3),
        extra={Extra.BREAK_GLASS.value: TRUE},
    )
    review = build_review(WEEK, [failed], [], [])
    assert [u.request_id for u in review.break_glass] == ["g-failed-glass"]
    assert review.grants == ()


def test_denied_and_timed_out_requests_decided_in_the_period() -> None:
    review = week_review()
    assert [(r.request_id, r.decided_by, r.at) for r in review.denied] == [("r-denied", CAROL, at(4, 9, 10))]
    assert [(r.request_id, r.requester, r.decided_by, r.vm) for r in review.timed_out] == [
        ("r-timeout", ERIN, None, APP)
    ]


def test_a_timed_out_request_names_no_decider_even_with_a_first_approval() -> None:
    half = replace(week_requests()[-1], approver=BOB, approvals=(BOB,), extra={Extra.QUORUM.value: "2"})
    [refusal] = build_review(WEEK, [half], [], []).timed_out
    assert refusal.decided_by is None


# -- outside jitbot, any source -----------------------------------------------------------------------


def test_ports_opened_outside_jitbot_from_the_audit_once_each() -> None:
    review = week_review()
    [opening] = review.outside
    assert (opening.vm_label, opening.port, opening.source, opening.requestor) == (
        "web-01",
        22,
        "192.0.2.0/24",
        "pat@contoso.com",
    )
    assert (opening.start, opening.end) == (at(5, 14), at(5, 17))
    assert review.unreadable_records == 1


def test_an_outside_opening_before_the_period_is_left_out_and_one_still_open_is_kept() -> None:
    before = outside_record("1-0", WEB, "22", at(1, 1).isoformat(), at(1, 2).isoformat())
    before = replace(before, at=at(1, 1))
    spanning = replace(outside_record("2-0", DB, "3389", at(2, 22).isoformat(), at(3, 1).isoformat()), at=at(2, 22))
    unknown_vm = outside_record("3-0", vm("ghost-01"), "22", at(4, 1).isoformat(), "2025-03-04T02:00:00")
    review = build_review(WEEK, [], [before, spanning, unknown_vm], [])
    assert [(o.vm_label, o.port) for o in review.outside] == [("db-01", 3389), ("ghost-01", 22)]
    assert review.outside[1].end == at(4, 2), "a time without a zone is UTC"


def test_vms_whose_policy_lets_some_port_be_opened_to_any_source() -> None:
    review = week_review()
    assert [(p.label, p.ports) for p in review.any_source] == [("db-01", (22,)), ("web-01", (3389,))]


# -- naming VMs ---------------------------------------------------------------------------------------


def test_vms_are_named_by_name_unless_that_is_ambiguous() -> None:
    other_sub = "11111111-2222-3333-4444-555555555555"
    twins = [vm("web-01"), vm("web-01", "test-rg"), vm("db-01"), vm("db-01", sub=other_sub)]
    labels = vm_labels(twins)
    assert [labels[vm_key(v.id)] for v in twins] == [
        "prod-rg/web-01",
        "test-rg/web-01",
        f"{vm('db-01').subscription_id}/prod-rg/db-01",
        f"{other_sub}/prod-rg/db-01",
    ]


def test_the_review_names_every_vm_it_mentions_the_same_way() -> None:
    twin = vm("web-01", "test-rg")
    review = build_review(
        WEEK,
        [*week_requests(), grant("g-twin", ALICE, twin, at(4, 10), at(4, 11))],
        week_audit(),
        week_inventory(),
    )
    assert {t.label for t in review.vms} >= {"prod-rg/web-01", "test-rg/web-01"}
    assert review.outside[0].vm_label == "prod-rg/web-01"
    assert review.label(WEB) == "prod-rg/web-01"
    assert [p.label for p in review.any_source] == ["db-01", "prod-rg/web-01"]
    assert review.label(vm("not-in-review")) == "not-in-review"


def test_an_empty_period_gives_an_empty_review() -> None:
    review = build_review(WEEK, [], [], [])
    assert (review.grants, review.vms, review.people, review.break_glass, review.outside) == ((), (), (), (), ())
    assert review.open_hours == 0
    assert [d.total for d in review.days] == [timedelta(0)] * 7
    assert BOB not in {p.person for p in review.people}


def test_a_break_glass_grant_made_before_the_period_but_open_in_it_is_listed() -> None:
    early = grant("g-early-glass", ERIN, DB, at(2, 23), at(3, 1), extra={Extra.BREAK_GLASS.value: TRUE})
    review = build_review(WEEK, [early], [], [])
    assert [u.request_id for u in review.break_glass] == ["g-early-glass"]
    old = grant("g-old-glass", ERIN, DB, at(1, 1), at(1, 2), extra={Extra.BREAK_GLASS.value: TRUE})
    assert build_review(WEEK, [old], [], []).break_glass == ()
