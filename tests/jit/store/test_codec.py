"""The request hash round-trips exactly and refuses what it cannot store faithfully."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jit.model import AccessRequest, RequestState, VmRef
from jit.store.codec import (
    CodecError,
    decode_request,
    decode_timedelta,
    encode_changes,
    encode_request,
    encode_timedelta,
    is_tuple_field,
)
from tests.jit.store.strategies import access_requests, durations

VM = VmRef(
    "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1", "s", "rg", "vm1", "westeurope"
)
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def sample(**changes: object) -> AccessRequest:
    base = AccessRequest(
        id="jr-abc",
        requester="U1",
        vm=VM,
        ports=(22, 3389),
        source="10.0.0.1",
        duration=timedelta(hours=2),
        reason="fix deploy",
        state=RequestState.PENDING,
        created_at=T0,
    )
    return AccessRequest(**{**base.__dict__, **changes})


@given(access_requests())
def test_any_request_round_trips(request: AccessRequest) -> None:
    assert decode_request(encode_request(request)) == request


@given(access_requests())
def test_round_trip_through_bytes_as_redis_returns_them(request: AccessRequest) -> None:
    stored = {k.encode(): v.encode() for k, v in encode_request(request).items()}
    decoded = decode_request(stored)
    assert decoded == request
    assert decoded.extra == request.extra


@given(durations)
def test_timedelta_is_exact(value: timedelta) -> None:
    assert decode_timedelta(encode_timedelta(value)) == value


def test_hash_is_readable() -> None:
    fields = encode_request(sample(extra={"dm": "D1"}, approvals=("U2",)))
    assert fields["duration"] == "7200"
    assert fields["created_at"] == "2026-12-01T09:00:00+00:00"
    assert fields["ports"] == "[22,3389]"
    assert fields["vm.name"] == "vm1"
    assert fields["extra.dm"] == "D1"
    assert fields["approvals"] == '["U2"]'
    assert "approver" not in fields
    assert encode_timedelta(timedelta(seconds=1, microseconds=500000)) == "1.5"
    assert encode_timedelta(timedelta(microseconds=-1)) == "-0.000001"


def test_times_are_stored_in_utc() -> None:
    from datetime import timezone

    local = datetime(2026, 12, 1, 10, 0, tzinfo=timezone(timedelta(hours=1)))
    fields = encode_request(sample(created_at=local))
    assert fields["created_at"] == "2026-12-01T09:00:00+00:00"
    assert decode_request(fields).created_at.tzinfo is UTC


def test_naive_times_are_refused() -> None:
    with pytest.raises(CodecError):
        encode_request(sample(created_at=datetime(2026, 1, 1)))


@pytest.mark.parametrize("missing", ["id", "state", "created_at", "vm.id", "duration"])
def test_missing_required_field_is_an_error(missing: str) -> None:
    fields = encode_request(sample())
    del fields[missing]
    with pytest.raises(CodecError):
        decode_request(fields)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("duration", "abc"),
        ("duration", "NaN"),
        ("duration", "1.0000001"),
        ("ports", '["22"]'),
        ("created_at", "2026-01-01T00:00:00"),
    ],
)
def test_corrupt_values_are_errors(field: str, value: str) -> None:
    fields = encode_request(sample())
    fields[field] = value
    with pytest.raises(CodecError):
        decode_request(fields)


def test_changes_are_typed_or_pre_encoded() -> None:
    changes = encode_changes(
        {
            "approver": "U2",
            "decided_at": T0,
            "ends_at": "2026-12-01T11:00:00Z",
            "failure": None,
            "extra.dm": "D9",
            "extra.old": None,
            "approvals": ("U2", "U3"),
        }
    )
    assert changes.set == {
        "approver": "U2",
        "decided_at": "2026-12-01T09:00:00+00:00",
        "ends_at": "2026-12-01T11:00:00+00:00",
        "extra.dm": "D9",
        "approvals": '["U2","U3"]',
    }
    assert set(changes.delete) == {"failure", "extra.old"}


@pytest.mark.parametrize(
    "change",
    [
        {"state": "approved"},
        {"id": "x"},
        {"requester": "U9"},
        {"nope": "1"},
        {"reason": None},
        {"ends_at": "soon"},
        {"vm": "x"},
        {"extra.dm": 3},
    ],
)
def test_bad_changes_are_refused(change: dict[str, object]) -> None:
    with pytest.raises(CodecError):
        encode_changes(change)


def test_tuple_fields() -> None:
    assert is_tuple_field("approvals")
    assert is_tuple_field("ports")
    assert not is_tuple_field("reason")
    assert not is_tuple_field("missing")


@given(st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=3))
def test_extra_changes_round_trip(extra: dict[str, str]) -> None:
    fields = encode_request(sample())
    fields.update(encode_changes({f"extra.{k}": v for k, v in extra.items()}).set)
    assert decode_request(fields).extra == extra
