"""Hypothesis strategies for AccessRequest, shared by the codec and store tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import strategies as st

from jit.model import AccessRequest, RequestState, VmRef

text = st.text(max_size=40)
aware_times = st.datetimes(
    min_value=datetime(1970, 1, 2),
    max_value=datetime(9000, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))]),
)
durations = st.timedeltas(min_value=timedelta(days=-3), max_value=timedelta(days=400))
vm_refs = st.builds(VmRef, id=text, subscription_id=text, resource_group=text, name=text, location=text)


@st.composite
def access_requests(draw: st.DrawFn, request_id: st.SearchStrategy[str] = text) -> AccessRequest:
    """Any AccessRequest the model allows, with every optional field sometimes absent."""
    optional_text = st.none() | text
    optional_time = st.none() | aware_times
    return AccessRequest(
        id=draw(request_id),
        requester=draw(text),
        vm=draw(vm_refs),
        ports=draw(st.tuples() | st.lists(st.integers(0, 65535), max_size=5).map(tuple)),
        source=draw(text),
        duration=draw(durations),
        reason=draw(st.text(max_size=300)),
        state=draw(st.sampled_from(RequestState)),
        created_at=draw(aware_times),
        approver=draw(optional_text),
        decided_at=draw(optional_time),
        starts_at=draw(optional_time),
        ends_at=draw(optional_time),
        failure=draw(optional_text),
        card_channel=draw(optional_text),
        card_ts=draw(optional_text),
        policy_id=draw(optional_text),
        approvals=draw(st.lists(text, max_size=4).map(tuple)),
        extra=draw(st.dictionaries(text, text, max_size=4)),
    )
