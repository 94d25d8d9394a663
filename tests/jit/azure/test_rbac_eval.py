"""Azure RBAC's grant rules: wildcards, notActions within a block, several roles adding up, scopes that apply."""

from __future__ import annotations

from typing import Any

import pytest

from jit.azure.rbac_eval import EVERYONE, action_matches, applies_to, deny_effect, granted, missing
from jit.requester_access import INITIATE_ACTION, REQUIRED_ACTIONS

VM = "/subscriptions/s1/resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachines/web-01"


def role(*actions: str, not_actions: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"properties": {"permissions": [{"actions": list(actions), "notActions": list(not_actions)}]}}


@pytest.mark.parametrize(
    ("pattern", "action", "expected"),
    [
        ("*", INITIATE_ACTION, True),
        ("*/read", "Microsoft.Compute/virtualMachines/read", True),
        ("*/read", INITIATE_ACTION, False),
        ("Microsoft.Security/*", INITIATE_ACTION, True),
        ("microsoft.security/locations/jitnetworkaccesspolicies/*", INITIATE_ACTION, True),
        ("Microsoft.Network/*/read", "Microsoft.Network/networkInterfaces/read", True),
        ("Microsoft.Network/*/read", "Microsoft.Network/networkInterfaces/write", False),
        ("Microsoft.Compute/virtualMachines/read", "Microsoft.Compute/virtualMachines/read", True),
        ("Microsoft.Compute/virtualMachines/read", "Microsoft.Compute/virtualMachines/readx", False),
        ("Microsoft.Security/locations/jitNetworkAccessPolicies/*/read", INITIATE_ACTION, False),
    ],
)
def test_wildcards_match_like_azure(pattern: str, action: str, expected: bool) -> None:
    assert action_matches(pattern, action) is expected


def test_reader_lacks_only_the_initiate_action() -> None:
    assert missing([role("*/read")], REQUIRED_ACTIONS) == (INITIATE_ACTION,)


def test_not_actions_subtract_within_their_block_but_another_role_adds_back() -> None:
    contributor_like = role("*", not_actions=("Microsoft.Security/locations/jitNetworkAccessPolicies/*",))
    assert not granted([contributor_like], INITIATE_ACTION)
    assert granted([contributor_like, role(INITIATE_ACTION)], INITIATE_ACTION)


def test_no_roles_miss_everything_and_owner_misses_nothing() -> None:
    assert missing([], REQUIRED_ACTIONS) == REQUIRED_ACTIONS
    assert missing([role("*")], REQUIRED_ACTIONS) == ()


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        ("/", True),
        ("/providers/Microsoft.Management/managementGroups/mg-production", True),
        ("/subscriptions/s1", True),
        ("/subscriptions/S1/resourceGroups/RG-WEB", True),
        (VM, True),
        ("/subscriptions/s1/resourceGroups/rg-web2", False),
        ("/subscriptions/s2", False),
    ],
)
def test_which_assignment_scopes_apply_to_a_vm(scope: str, expected: bool) -> None:
    assert applies_to(scope, VM) is expected


def deny(
    *actions: str,
    not_actions: tuple[str, ...] = (),
    principals: tuple[tuple[str, str], ...] = ((EVERYONE, "SystemDefined"),),
    exclude: tuple[tuple[str, str], ...] = (),
    scope: str = "/subscriptions/s1/resourceGroups/rg-web",
    child_scopes: bool = True,
) -> dict[str, Any]:
    return {
        "name": "d1",
        "properties": {
            "denyAssignmentName": "lock",
            "scope": scope,
            "doNotApplyToChildScopes": not child_scopes,
            "permissions": [{"actions": list(actions), "notActions": list(not_actions)}],
            "principals": [{"id": i, "type": t} for i, t in principals],
            "excludePrincipals": [{"id": i, "type": t} for i, t in exclude],
        },
    }


ME = "11111111-1111-1111-1111-111111111111"


def test_a_deny_assignment_for_everyone_refuses_what_it_matches_less_not_actions() -> None:
    effect = deny_effect([deny("*", not_actions=("*/read",))], ME, REQUIRED_ACTIONS, VM)

    assert effect.denied == (INITIATE_ACTION,) and effect.by == ("lock",) and effect.undecided == ()


def test_excluded_people_other_principals_and_other_scopes_are_not_denied() -> None:
    assert deny_effect([deny("*", exclude=((ME, "User"),))], ME, REQUIRED_ACTIONS, VM).denied == ()
    other = (("22222222-2222-2222-2222-222222222222", "User"),)
    assert deny_effect([deny("*", principals=other)], ME, REQUIRED_ACTIONS, VM).denied == ()
    elsewhere = deny("*", scope="/subscriptions/s1/resourceGroups/rg-data")
    assert deny_effect([elsewhere], ME, REQUIRED_ACTIONS, VM).denied == ()
    assert deny_effect([deny("*/delete")], ME, REQUIRED_ACTIONS, VM).denied == ()


def test_do_not_apply_to_child_scopes_keeps_it_at_its_own_scope() -> None:
    assert deny_effect([deny("*", child_scopes=False)], ME, REQUIRED_ACTIONS, VM).denied == ()
    at_vm = deny("*", scope=VM, child_scopes=False)
    assert deny_effect([at_vm], ME, REQUIRED_ACTIONS, VM).denied == REQUIRED_ACTIONS


def test_groups_jitbot_cannot_resolve_leave_it_undecided() -> None:
    group = (("33333333-3333-3333-3333-333333333333", "Group"),)

    named = deny_effect([deny("*", principals=group)], ME, REQUIRED_ACTIONS, VM)
    exempted = deny_effect([deny("*", exclude=group)], ME, REQUIRED_ACTIONS, VM)

    assert named.denied == () and named.undecided == ("lock",)
    assert exempted.denied == () and exempted.undecided == ("lock",)
