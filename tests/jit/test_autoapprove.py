"""Auto-approval decisions: every condition the rule names must hold, the deny list always wins, and a deny list
that cannot be read leaves the decision to a person (audited)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, time, timedelta

import pytest

from jit.autoapprove import auto_approval, member_of
from jit.errors import GroupUnreadable
from jit.routing import AutoApproval, BusinessHours, Route

MONDAY_NOON = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
SUNDAY_NOON = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


class Groups:
    """A Directory with fixed memberships that counts its look-ups; ``failing`` groups make Slack fail."""

    def __init__(self, groups: dict[str, frozenset[str]], failing: frozenset[str] = frozenset()):
        self.groups = groups
        self.failing = failing
        self.lookups: list[str] = []

    async def group_members(self, group_id: str) -> frozenset[str]:
        self.lookups.append(group_id)
        if group_id in self.failing:
            raise ConnectionError("slack is down")
        return self.groups.get(group_id, frozenset())

    async def readable_members(self, group_id: str) -> frozenset[str]:
        self.lookups.append(group_id)
        if group_id in self.failing:
            raise GroupUnreadable(group_id, "ConnectionError")
        if group_id not in self.groups:
            raise GroupUnreadable(group_id, "no_such_subteam")
        return self.groups[group_id]


class Trail:
    """Collects what ``RequestStore.record`` would append."""

    def __init__(self) -> None:
        self.records: list[tuple[str, str, str | None, dict[str, str]]] = []

    async def __call__(
        self, event: str, *, actor: str, request_id: str | None, detail: Mapping[str, str] | None = None
    ) -> str:
        self.records.append((event, actor, request_id, dict(detail or {})))
        return "0-1"


ONCALL = Groups({"S0ONCALL": frozenset({"U0ALICE", "U0MALLORY"})})
RULE = Route(
    name="web-oncall",
    approvers=("S0APPROVERS",),
    approval_channel="C0APPROVAL",
    auto_approve=AutoApproval(
        requesters=("S0ONCALL",),
        deny=("U0MALLORY",),
        max_duration=timedelta(hours=1),
        ports=(22,),
        business_hours=(BusinessHours("UTC", time(9), time(17)),),
    ),
)


async def decide(
    route: Route = RULE,
    *,
    user: str = "U0ALICE",
    ports: tuple[int, ...] = (22,),
    hours: float = 1,
    now: datetime = MONDAY_NOON,
    directory: Groups = ONCALL,
    trail: Trail | None = None,
) -> tuple[bool, str]:
    decision = await auto_approval(
        route,
        requester=user,
        ports=ports,
        duration=timedelta(hours=hours),
        now=now,
        directory=directory,
        audit=trail or Trail(),
    )
    assert decision.rule == route.name
    return decision.allowed, decision.why


async def test_every_condition_holding_approves() -> None:
    assert await decide() == (True, "every condition of the rule holds")


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"user": "U0MALLORY"}, "deny list"),
        ({"user": "U0BOB"}, "not in the rule's auto-approve groups"),
        ({"hours": 1.5}, "longer than"),
        ({"ports": (22, 8080)}, "not in the rule's auto-approve list"),
        ({"now": SUNDAY_NOON}, "business hours"),
        ({"now": MONDAY_NOON.replace(hour=17)}, "business hours"),
    ],
)
async def test_any_unmet_condition_leaves_it_to_a_person(changes: dict[str, object], why: str) -> None:
    allowed, reason = await decide(**changes)  # type: ignore[arg-type]

    assert not allowed and why in reason


async def test_a_rule_without_auto_approval_never_approves() -> None:
    plain = Route(name="plain", approvers=("S0A",), approval_channel="C0A")

    assert await decide(plain) == (False, "the rule has no auto-approval")


async def test_deny_wins_even_when_it_is_the_only_match() -> None:
    only_deny = Route(
        name="r",
        approvers=("S0A",),
        approval_channel="C0A",
        auto_approve=AutoApproval(deny=("S0ONCALL",), max_duration=timedelta(hours=2)),
    )

    assert (await decide(only_deny, user="U0ALICE"))[0] is False
    assert (await decide(only_deny, user="U0BOB"))[0] is True


async def test_membership_is_direct_or_through_a_group() -> None:
    groups = Groups({"S0TEAM": frozenset({"U0ALICE"})})

    assert await member_of(groups, "U0ALICE", ("U0ALICE",))
    assert groups.lookups == []
    assert await member_of(groups, "U0ALICE", ("U0BOB", "S0TEAM"))
    assert not await member_of(groups, "U0CAROL", ("S0TEAM", "W0OTHER"))
    assert groups.lookups == ["S0TEAM", "S0TEAM"]


def _with_deny(*deny: str) -> Route:
    return Route(
        name="web-oncall",
        approvers=("S0APPROVERS",),
        approval_channel="C0APPROVAL",
        auto_approve=AutoApproval(requesters=("S0ONCALL",), deny=deny, max_duration=timedelta(hours=1)),
    )


@pytest.mark.parametrize(
    ("directory", "why"),
    [
        (ONCALL, "S0CONTRACTORS:no_such_subteam"),
        (Groups({**ONCALL.groups, "S0CONTRACTORS": frozenset()}, frozenset({"S0CONTRACTORS"})), "ConnectionError"),
    ],
)
async def test_a_deny_group_that_cannot_be_read_leaves_it_to_a_person_and_is_audited(
    directory: Groups, why: str
) -> None:
    trail = Trail()

    allowed, reason = await decide(_with_deny("U0MALLORY", "S0CONTRACTORS"), directory=directory, trail=trail)

    assert not allowed and "cannot be read" in reason
    [(event, actor, request_id, detail)] = trail.records
    assert (event, actor, request_id, detail["rule"]) == ("auto_approval_withheld", "U0ALICE", None, "web-oncall")
    assert why in detail["groups"] and "S0CONTRACTORS" in detail["groups"]


async def test_a_readable_deny_list_still_decides_and_an_unknown_allow_group_reads_as_empty() -> None:
    trail = Trail()
    directory = Groups({**ONCALL.groups, "S0CONTRACTORS": frozenset({"U0MALLORY"})})

    assert (await decide(_with_deny("S0CONTRACTORS"), directory=directory, trail=trail))[0] is True
    assert (await decide(_with_deny("S0CONTRACTORS"), user="U0MALLORY", directory=directory, trail=trail))[1] == (
        "the requester is on the rule's deny list"
    )
    unknown_allow = Route(
        name="r",
        approvers=("S0A",),
        approval_channel="C0A",
        auto_approve=AutoApproval(requesters=("S0GONE",), max_duration=timedelta(hours=1)),
    )
    assert (await decide(unknown_allow, directory=directory, trail=trail))[0] is False
    assert trail.records == []


async def test_a_conjunction_needs_membership_of_every_group() -> None:
    groups = Groups({"S0SEC": frozenset({"U0ALICE", "U0BOB"}), "S0DBA": frozenset({"U0BOB"})})

    assert await member_of(groups, "U0BOB", ("S0DBA&S0SEC",))
    assert not await member_of(groups, "U0ALICE", ("S0DBA&S0SEC",))
    assert await member_of(groups, "U0ALICE", ("U0ALICE&S0SEC",))
    assert not await member_of(groups, "U0BOB", ("U0ALICE&S0SEC", "nobody"))
