"""Auto-approval decisions: every condition the rule names must hold, and the deny list always wins."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from jit.autoapprove import auto_approval, member_of
from jit.routing import AutoApproval, BusinessHours, Route

MONDAY_NOON = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
SUNDAY_NOON = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


class Groups:
    """A Directory with fixed memberships that counts its look-ups."""

    def __init__(self, groups: dict[str, frozenset[str]]):
        self.groups = groups
        self.lookups: list[str] = []

    async def group_members(self, group_id: str) -> frozenset[str]:
        self.lookups.append(group_id)
        return self.groups.get(group_id, frozenset())


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
        business_hours=BusinessHours("UTC", time(9), time(17)),
    ),
)


async def decide(
    route: Route = RULE,
    *,
    user: str = "U0ALICE",
    ports: tuple[int, ...] = (22,),
    hours: float = 1,
    now: datetime = MONDAY_NOON,
) -> tuple[bool, str]:
    decision = await auto_approval(
        route, requester=user, ports=ports, duration=timedelta(hours=hours), now=now, directory=ONCALL
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
