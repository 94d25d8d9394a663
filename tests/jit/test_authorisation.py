"""Who may do what to a request (``jit.authorisation``), and that every refusal is audited."""

from __future__ import annotations

import pytest

from jit.authorisation import Authorisation
from jit.clock import ManualClock
from jit.errors import NotAllowed
from jit.model import AccessRequest
from tests.jit.doubles.people import GroupDirectory
from tests.jit.doubles.records import InMemoryRecords, InMemoryTimetable
from tests.jit.doubles.world import VM, SettableRouter, rule
from tests.jit.store.conftest import make_request

REQUESTER = "U0REQ"
APPROVER = "U0APPROVER"
GROUP_APPROVER = "U0GROUPIE"
ADMIN = "U0ADMIN"
GROUP_ADMIN = "U0GROUPADMIN"
OUTSIDER = "U0OUT"
ASKER = "U0ASKER"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def records(clock: ManualClock) -> InMemoryRecords:
    return InMemoryRecords(clock, InMemoryTimetable())


@pytest.fixture
def router() -> SettableRouter:
    return SettableRouter(rule(approvers=(APPROVER, "SAPPROVERS", REQUESTER), break_glass=("SGLASS",)))


@pytest.fixture
def access(records: InMemoryRecords, router: SettableRouter) -> Authorisation:
    directory = GroupDirectory(
        {"SAPPROVERS": {GROUP_APPROVER}, "SADMINS": {GROUP_ADMIN}, "SGLASS": {REQUESTER}, "SREQ": {REQUESTER}}
    )
    return Authorisation(directory, router, (ADMIN, "SADMINS"), records.record)


def request(clock: ManualClock, **extra: str) -> AccessRequest:
    return make_request(clock, REQUESTER, extra={"approvers": f"{APPROVER},SAPPROVERS,{REQUESTER}", **extra})


async def test_anyone_may_ask_unless_the_rule_names_who(access: Authorisation) -> None:
    assert await access.may_request(OUTSIDER, rule())
    assert await access.may_request(REQUESTER, rule(requesters=("SREQ",)))
    assert not await access.may_request(OUTSIDER, rule(requesters=("SREQ",)))


async def test_admins_are_named_directly_or_through_a_group(access: Authorisation) -> None:
    assert await access.is_admin(ADMIN) and await access.is_admin(GROUP_ADMIN)
    assert not await access.is_admin(APPROVER)


async def test_the_requester_never_approves_even_when_the_rule_lists_them(
    access: Authorisation, clock: ManualClock
) -> None:
    asked = request(clock)

    assert not await access.may_approve(REQUESTER, asked)
    assert await access.may_approve(APPROVER, asked) and await access.may_approve(GROUP_APPROVER, asked)
    assert not await access.may_approve(OUTSIDER, asked)


async def test_the_approvers_frozen_into_the_request_decide_not_todays_rule(
    access: Authorisation, router: SettableRouter, clock: ManualClock
) -> None:
    asked = make_request(clock, REQUESTER, extra={"approvers": OUTSIDER})
    unfrozen = make_request(clock, REQUESTER)

    assert await access.may_approve(OUTSIDER, asked)
    assert not await access.may_approve(APPROVER, asked)
    assert await access.may_approve(APPROVER, unfrozen)
    router.rule = rule(approvers=(OUTSIDER,))
    assert not await access.may_approve(APPROVER, unfrozen)


async def test_approves_for_is_the_current_rules_approvers_or_an_admin(access: Authorisation) -> None:
    assert await access.approves_for(APPROVER, VM)
    assert await access.approves_for(ADMIN, VM)
    assert not await access.approves_for(OUTSIDER, VM)


async def test_the_requester_an_approver_or_an_admin_may_revoke(access: Authorisation, clock: ManualClock) -> None:
    asked = request(clock)

    for user in (REQUESTER, APPROVER, GROUP_APPROVER, ADMIN, GROUP_ADMIN):
        assert await access.may_revoke(user, asked), user
    assert not await access.may_revoke(OUTSIDER, asked)


@pytest.mark.parametrize(("user", "why"), [(REQUESTER, "self"), (OUTSIDER, "not_approver"), (ADMIN, "not_approver")])
async def test_a_refused_decision_is_audited_with_why(
    access: Authorisation, records: InMemoryRecords, clock: ManualClock, user: str, why: str
) -> None:
    asked = request(clock)

    with pytest.raises(NotAllowed):
        await access.check_decision(asked, user, "deny")

    [refusal] = records.audit
    assert (refusal.event, refusal.actor, refusal.request_id, dict(refusal.detail)) == (
        "deny_refused",
        user,
        asked.id,
        {"why": why},
    )


async def test_an_approver_may_decide(access: Authorisation, records: InMemoryRecords, clock: ManualClock) -> None:
    await access.check_decision(request(clock), APPROVER, "approve")

    assert records.audit == []


@pytest.mark.parametrize(("user", "why"), [(REQUESTER, "self"), (ASKER, "asked_for_it"), (OUTSIDER, "not_approver")])
async def test_an_extension_is_decided_by_an_approver_who_neither_holds_nor_asked_for_it(
    access: Authorisation, records: InMemoryRecords, clock: ManualClock, user: str, why: str
) -> None:
    grant = request(clock, approvers=f"{APPROVER},{ASKER}", ext_by=ASKER)

    with pytest.raises(NotAllowed):
        await access.check_extension_decision(grant, user, "approve")
    await access.check_extension_decision(grant, APPROVER, "approve")

    [refusal] = records.audit
    assert (refusal.event, dict(refusal.detail)) == ("extension_approve_refused", {"why": why})


async def test_break_glass_only_for_its_group(
    access: Authorisation, records: InMemoryRecords, clock: ManualClock
) -> None:
    await access.check_break_glass(REQUESTER, rule(break_glass=("SGLASS",)), "web-01")
    with pytest.raises(NotAllowed):
        await access.check_break_glass(OUTSIDER, rule(break_glass=("SGLASS",)), "web-01")
    with pytest.raises(NotAllowed):
        await access.check_break_glass(REQUESTER, rule(), "web-01")

    assert [(r.event, r.actor, r.request_id, dict(r.detail)) for r in records.audit] == [
        ("break_glass_refused", OUTSIDER, None, {"vm": "web-01"}),
        ("break_glass_refused", REQUESTER, None, {"vm": "web-01"}),
    ]
