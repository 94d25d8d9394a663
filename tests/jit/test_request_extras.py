"""The typed view of a request's extras: one parsing rule per key, and malformed values read as their defaults."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from jit.clock import ManualClock
from jit.model import AccessRequest, RbacOutcome
from jit.request_extras import ExtensionState, Extra, Extras, csv, extra_field, extras_of, granted_by, seconds
from jit.routing import ConflictChoice
from tests.jit.store.conftest import make_request

DEFAULT_REVIEW = timedelta(hours=1)
ONE_SIGHTING = {"who": "x", "port": "22"}


def extras(**raw: str) -> Extras:
    return Extras(raw)


def with_extra(**changes: object) -> AccessRequest:
    return make_request(ManualClock(), "U0REQUESTER", **changes)


def test_nothing_stored_reads_as_every_default() -> None:
    view = extras()

    assert (view.route, view.approvers, view.quorum, view.auto_approved_by, view.break_glass) == (
        "",
        (),
        1,
        None,
        False,
    )
    assert view.on_conflict is ConflictChoice.SUPERSEDE
    assert view.review_within(DEFAULT_REVIEW) == DEFAULT_REVIEW
    assert (view.reminders, view.escalate_after, view.escalate_to, view.escalate_channel) == ((), None, (), "")
    assert (view.nudges, view.escalated, view.escalation_card, view.reviewed_by, view.reviewed_at) == (
        0,
        False,
        None,
        None,
        None,
    )
    assert (view.review_rounds, view.glass_posts, view.revoked_by, view.extensions, view.losses) == (0, (), None, 0, 0)
    assert (view.queued_until, view.queued_until_raw, view.superseded, view.displaced_outside) == (None, None, None, [])
    assert (view.rbac, view.closed_by_azure, view.wide_source_prefix, view.port_holders) == (None, None, None, "")
    ext = view.extension
    assert (ext.seq, ext.state, ext.duration, ext.at, ext.approvals, ext.open) == (
        0,
        None,
        timedelta(),
        None,
        (),
        False,
    )


@pytest.mark.parametrize("stored", ["abc", "0", "-2", "100", "2.5", "", " ", "٣"])
def test_a_malformed_quorum_needs_one_approval(stored: str) -> None:
    assert extras(quorum=stored).quorum == 1


@pytest.mark.parametrize(("stored", "quorum"), [("2", 2), (" 3 ", 3), ("99", 99)])
def test_a_well_formed_quorum_counts(stored: str, quorum: int) -> None:
    assert extras(quorum=stored).quorum == quorum


@pytest.mark.parametrize(
    ("key", "value", "read"),
    [
        ("nudges", "two", lambda v: v.nudges == 0),
        ("nudges", "-1", lambda v: v.nudges == 0),
        ("review_rounds", "1e3", lambda v: v.review_rounds == 0),
        ("extensions", "²", lambda v: v.extensions == 0),
        ("lost_seq", "x", lambda v: v.losses == 0),
        ("ext_seq", "one", lambda v: v.extension.seq == 0),
        ("ext_state", "exploded", lambda v: v.extension.state is None and not v.extension.open),
        ("ext_duration", "1h", lambda v: v.extension.duration == timedelta()),
        ("ext_at", "yesterday", lambda v: v.extension.at is None),
        ("ext_until", "2026-13-45", lambda v: v.extension.until is None),
        ("reviewed_at", "not a time", lambda v: v.reviewed_at is None),
        ("queued_until", "soon", lambda v: v.queued_until is None and v.queued_until_raw == "soon"),
        ("on_conflict", "fight", lambda v: v.on_conflict is ConflictChoice.SUPERSEDE),
        ("review_within", "an hour", lambda v: v.review_within(DEFAULT_REVIEW) == DEFAULT_REVIEW),
        ("review_within", "0", lambda v: v.review_within(DEFAULT_REVIEW) == DEFAULT_REVIEW),
        ("escalate_after", "later", lambda v: v.escalate_after is None),
        ("approver_reminders", "300,soon,,600", lambda v: v.reminders == (timedelta(minutes=5), timedelta(minutes=10))),
        ("displaced_outside", "{not json", lambda v: v.displaced_outside == []),
        ("displaced_outside", '{"who": "x"}', lambda v: v.displaced_outside == []),
        (
            "displaced_outside",
            '[1, {"who": "x", "port": 22}]',
            lambda v: v.displaced_outside == [{"who": "x", "port": "22"}],
        ),
        ("rbac", "maybe", lambda v: v.rbac is None),
        ("wide_source", "wide", lambda v: v.wide_source_prefix is None),
        ("break_glass", "yes", lambda v: v.break_glass is False),
        ("escalated", "TRUE", lambda v: v.escalated is False),
    ],
)
def test_a_malformed_value_reads_as_its_default(key: str, value: str, read: Callable[[Extras], bool]) -> None:
    assert read(Extras({key: value}))


def test_well_formed_values_read_as_stored() -> None:
    at = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    view = extras(
        approvers="U1, U2 ,,S3",
        break_glass=" True ",
        on_conflict="queue",
        review_within="1800",
        approver_reminders="300,600",
        escalate_after="900",
        escalate_to="S9",
        escalated="true",
        reviewed_by="U5",
        reviewed_at=at.isoformat(),
        queued_until=at.isoformat(),
        ext_seq="2",
        ext_state="pending",
        ext_duration="3600",
        ext_by="U1",
        ext_at=at.isoformat(),
        ext_approvals="U2,U3",
        superseded_by="U7",
        superseded_source="198.51.100.9",
        rbac="missing",
        rbac_missing="a,b",
        wide_source="16",
    )

    assert view.approvers == ("U1", "U2", "S3")
    assert view.break_glass and view.on_conflict is ConflictChoice.QUEUE and view.escalated
    assert view.review_within(DEFAULT_REVIEW) == timedelta(minutes=30)
    assert view.reminders == (timedelta(minutes=5), timedelta(minutes=10))
    assert view.escalate_after == timedelta(minutes=15) and view.escalate_to == ("S9",)
    assert (view.reviewed_by, view.reviewed_at, view.queued_until) == ("U5", at, at)
    ext = view.extension
    assert (ext.seq, ext.state, ext.duration, ext.by, ext.at, ext.approvals) == (
        2,
        ExtensionState.PENDING,
        timedelta(hours=1),
        "U1",
        at,
        ("U2", "U3"),
    )
    assert ext.open
    assert view.superseded is not None and view.superseded.by == "U7" and view.superseded.request_id is None
    assert view.rbac is not None and view.rbac.outcome is RbacOutcome.MISSING and view.rbac.missing == ("a", "b")
    assert view.wide_source_prefix == 16


@pytest.mark.parametrize(
    ("state", "is_open"), [(s, s in (ExtensionState.PENDING, ExtensionState.APPROVED)) for s in ExtensionState]
)
def test_an_extension_is_open_while_pending_or_approved(state: ExtensionState, is_open: bool) -> None:
    assert extras(ext_state=state.value).extension.open is is_open


def test_granted_by_names_who_let_the_request_in() -> None:
    assert granted_by(with_extra(extra={"auto_approved": "office-hours"}, approver="U1")) == "rule:office-hours"
    assert granted_by(with_extra(approvals=("U1", "U2", "U1"), approver="U2")) == "U1,U2"
    assert granted_by(with_extra(approvals=("U1",), approver="U1")) == "U1"
    assert granted_by(with_extra(approver="U3")) == "U3"
    assert granted_by(with_extra(extra={"break_glass": "true"})) == "break-glass"
    assert granted_by(with_extra()) == "unknown"


def test_every_key_is_written_under_its_own_field() -> None:
    fields = [extra_field(key) for key in Extra]
    assert len(set(fields)) == len(fields)
    assert extra_field(Extra.EXT_STATE) == "extra.ext_state"
    assert extras_of(with_extra(extra={"route": "r"})).route == "r"


def test_helpers() -> None:
    assert csv(" a, ,b,") == ("a", "b")
    assert seconds(timedelta(minutes=90, microseconds=5)) == "5400"
