"""Azure RBAC's grant rules: wildcards, notActions within a block, several roles adding up, scopes that apply."""

from __future__ import annotations

from typing import Any

import pytest

from jit.azure.rbac_eval import action_matches, applies_to, granted, missing
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
