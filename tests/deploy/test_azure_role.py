"""The two custom Azure roles grant exactly what jitbot's Azure operations need, and nothing more."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

AZURE_DIR = Path(__file__).resolve().parents[2] / "deploy" / "azure"
ROLE_FILES = {"requester": AZURE_DIR / "jitbot-role.json", "admin": AZURE_DIR / "jitbot-admin-role.json"}
ROLE_KEYS = {
    "Name",
    "IsCustom",
    "Description",
    "Actions",
    "NotActions",
    "DataActions",
    "NotDataActions",
    "AssignableScopes",
}
ACTION = re.compile(r"^Microsoft\.[A-Za-z]+(/[A-Za-z]+)+$")
SUBSCRIPTION_SCOPE = re.compile(r"^/subscriptions/[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$")

EMULATOR_OPERATIONS = {
    "token",
    "jit.list_subscription",
    "jit.list_location",
    "jit.list_resource_group",
    "jit.list_resource_group_location",
    "jit.get",
    "jit.put",
    "jit.delete",
    "jit.initiate",
    "compute.vm.list_all",
    "compute.vm.list",
    "compute.vm.get",
    "classic.vm.list",
    "network.nic.get",
    "network.nic.list_all",
    "network.nsg.get",
    "network.nsg.list_all",
    "network.subnet.get",
    "network.vnet.list_all",
    "network.public_ip.get",
    "network.public_ip.list_all",
    "network.nsg.rule.delete",
    "network.nsg.rule.get",
    "security.pricing.get",
    "security.pricing.list",
    "security.locations.list",
}


def load_role(kind: str) -> dict[str, Any]:
    """One custom role definition as `az role definition create` reads it."""
    role: dict[str, Any] = json.loads(ROLE_FILES[kind].read_text(encoding="utf-8"))
    return role


def load_operations() -> dict[str, dict[str, Any]]:
    """Emulator operation name -> {actions, role, why}."""
    document: dict[str, Any] = json.loads((AZURE_DIR / "operations.json").read_text(encoding="utf-8"))
    operations: dict[str, dict[str, Any]] = document["operations"]
    return operations


def actions_needed(up_to_role: str) -> set[str]:
    """Every action needed by the operations that a role must support (admin includes requester's)."""
    roles = ("requester",) if up_to_role == "requester" else ("requester", "admin")
    return {action for op in load_operations().values() if op["role"] in roles for action in op["actions"]}


@pytest.mark.parametrize("kind", sorted(ROLE_FILES))
def test_role_file_is_a_valid_custom_role_definition(kind: str) -> None:
    role = load_role(kind)
    assert set(role) == ROLE_KEYS
    assert role["IsCustom"] is True
    assert role["Name"].startswith("jitbot ")
    assert role["Description"]
    assert role["NotActions"] == role["DataActions"] == role["NotDataActions"] == []
    assert role["AssignableScopes"], "a custom role needs at least one assignable scope"
    assert all(SUBSCRIPTION_SCOPE.match(scope) for scope in role["AssignableScopes"])
    assert len(role["Actions"]) == len(set(role["Actions"])), "duplicate actions"
    bad = [action for action in role["Actions"] if not ACTION.match(action)]
    assert not bad, f"not a concrete action (wildcards are not least privilege): {bad}"


def test_operation_names_are_exactly_the_emulators() -> None:
    assert set(load_operations()) == EMULATOR_OPERATIONS


def test_every_operation_names_a_role_and_well_formed_actions() -> None:
    for name, op in load_operations().items():
        assert op["role"] in ROLE_FILES, name
        assert op["why"], name
        assert all(ACTION.match(action) for action in op["actions"]), name
        assert op["actions"] or name == "token", f"{name} is an ARM call and needs an action"


@pytest.mark.parametrize("kind", sorted(ROLE_FILES))
def test_role_grants_exactly_the_actions_its_operations_need(kind: str) -> None:
    granted = set(load_role(kind)["Actions"])
    needed = actions_needed(kind)
    assert needed - granted == set(), f"{kind} role is missing actions its operations need"
    assert granted - needed == set(), f"{kind} role grants actions that no operation uses"


def test_requester_is_a_strict_subset_of_admin() -> None:
    requester = set(load_role("requester")["Actions"])
    admin = set(load_role("admin")["Actions"])
    assert requester < admin
    assert load_role("requester")["AssignableScopes"] == load_role("admin")["AssignableScopes"]


def test_requester_cannot_change_policies_vms_or_nsgs() -> None:
    writes = [a for a in load_role("requester")["Actions"] if a.rsplit("/", 1)[-1] in {"write", "delete"}]
    assert writes == []
    assert "Microsoft.Security/locations/jitNetworkAccessPolicies/initiate/action" in load_role("requester")["Actions"]
