"""The ARM emulator's role assignments, role definitions and management groups, over HTTPS with real tokens: the
answers validate against the vendored Authorization swagger and follow the official examples; filters and scope
inheritance behave as Microsoft documents them."""

from __future__ import annotations

from typing import Any

import pytest
from azure.identity.aio import ManagedIdentityCredential

from sandbox.arm import ArmEmulator
from sandbox.arm_demo import LAB, PROD, demo_inventory
from sandbox.arm_inventory import EVERYONE, DenyAssignment
from sandbox.arm_schema import (
    DENY_ASSIGNMENTS_SWAGGER,
    ROLE_ASSIGNMENTS_SWAGGER,
    ROLE_DEFINITIONS_SWAGGER,
    SPECS,
    problems,
)
from sandbox.entra import object_id
from sandbox.rbac_demo import JIT_VM_ACCESS, READER
from tests.sandbox.arm_support import OTHER_CREDENTIAL_VARIABLES, example, raw, token_for

AUTH_EXAMPLES = SPECS / "authorization/Microsoft.Authorization/stable/2022-04-01/examples"
MG_EXAMPLES = SPECS / "managementgroups/Microsoft.Management/stable/2023-04-01/examples"
WEB = f"/subscriptions/{PROD}/resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachines/web-01"
DB = f"/subscriptions/{PROD}/resourceGroups/rg-data/providers/Microsoft.Compute/virtualMachines/db-01"
ALICE = object_id("alice@contoso.com")
ERIN = object_id("erin@contoso.com")


@pytest.fixture
async def demo(monkeypatch: pytest.MonkeyPatch) -> Any:
    for name in OTHER_CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    async with ArmEmulator(demo_inventory()) as arm:
        env = arm.environment()
        monkeypatch.setenv("IDENTITY_ENDPOINT", env["IDENTITY_ENDPOINT"])
        monkeypatch.setenv("IDENTITY_HEADER", env["IDENTITY_HEADER"])
        async with ManagedIdentityCredential() as credential:
            yield arm, await token_for(credential)


async def assignments(arm: ArmEmulator, token: str, scope: str, filter_text: str | None = None) -> list[Any]:
    path = f"{scope}/providers/Microsoft.Authorization/roleAssignments"
    query = f"?$filter={filter_text}" if filter_text else ""
    status, body, _ = await raw(arm, "GET", path + query, token=token, api_version="2022-04-01")
    assert status == 200, body
    assert problems(ROLE_ASSIGNMENTS_SWAGGER, "RoleAssignmentListResult", body) == []
    return list(body["value"])


def roles_of(found: list[Any]) -> set[tuple[str, str]]:
    return {(a["properties"]["scope"], a["properties"]["roleDefinitionId"].rsplit("/", 1)[-1]) for a in found}


async def test_the_official_examples_are_valid_for_the_swagger_we_validate_against() -> None:
    listed = example(AUTH_EXAMPLES / "RoleAssignments_ListForScope.json")["responses"]["200"]["body"]
    assert problems(ROLE_ASSIGNMENTS_SWAGGER, "RoleAssignmentListResult", listed) == []
    definition = example(AUTH_EXAMPLES / "GetRoleDefinitionById.json")["responses"]["200"]["body"]
    assert problems(ROLE_DEFINITIONS_SWAGGER, "RoleDefinition", definition) == []


async def test_assigned_to_includes_groups_transitively_and_scopes_above(demo: Any) -> None:
    arm, token = demo
    found = await assignments(arm, token, DB, f"atScope() and assignedTo('{ERIN}')")
    mg = "/providers/Microsoft.Management/managementGroups"
    assert roles_of(found) == {(f"{mg}/mg-production", JIT_VM_ACCESS), (f"{mg}/mg-contoso", READER)}
    assert {a["properties"]["principalType"] for a in found} == {"Group"}
    sample = found[0]
    shaped = example(AUTH_EXAMPLES / "RoleAssignments_ListForScope.json")["responses"]["200"]["body"]["value"][0]
    assert set(shaped) <= set(sample) and set(shaped["properties"]) <= set(sample["properties"])
    assert sample["properties"]["roleDefinitionId"].startswith(f"/subscriptions/{PROD}/providers/")


async def test_at_scope_leaves_out_assignments_below(demo: Any) -> None:
    arm, token = demo
    everything = await assignments(arm, token, f"/subscriptions/{PROD}", f"assignedTo('{ALICE}')")
    at_or_above = await assignments(arm, token, f"/subscriptions/{PROD}", f"atScope() and assignedTo('{ALICE}')")
    rg_web = f"/subscriptions/{PROD}/resourceGroups/rg-web"
    assert (rg_web, JIT_VM_ACCESS) in roles_of(everything)
    assert (rg_web, JIT_VM_ACCESS) not in roles_of(at_or_above)
    assert (f"/subscriptions/{LAB}", JIT_VM_ACCESS) not in roles_of(everything), "another subscription"


async def test_principal_id_is_exact_and_bad_filters_are_refused(demo: Any) -> None:
    arm, token = demo
    assert await assignments(arm, token, WEB, f"principalId eq '{ALICE}'") == []
    status, body, _ = await raw(
        arm,
        "GET",
        f"{WEB}/providers/Microsoft.Authorization/roleAssignments?$filter=roleName eq 'x'",
        token=token,
        api_version="2022-04-01",
    )
    assert status == 400 and body["error"]["code"] == "InvalidFilter"


async def test_role_definition_by_id_validates(demo: Any) -> None:
    arm, token = demo
    path = f"/subscriptions/{PROD}/providers/Microsoft.Authorization/roleDefinitions/{READER}"
    status, body, _ = await raw(arm, "GET", path, token=token, api_version="2022-04-01")
    assert status == 200
    assert problems(ROLE_DEFINITIONS_SWAGGER, "RoleDefinition", body) == []
    assert body["id"] == path and body["properties"]["permissions"][0]["actions"] == ["*/read"]
    missing = f"/subscriptions/{PROD}/providers/Microsoft.Authorization/roleDefinitions/{object_id('nope')}"
    status, body, _ = await raw(arm, "GET", missing, token=token, api_version="2022-04-01")
    assert status == 404 and body["error"]["code"] == "RoleDefinitionDoesNotExist"


async def test_descendants_follow_the_official_example(demo: Any) -> None:
    arm, token = demo
    path = "/providers/Microsoft.Management/managementGroups/mg-contoso/descendants"
    status, body, _ = await raw(arm, "GET", path, token=token, api_version="2023-04-01")
    assert status == 200
    shaped = example(MG_EXAMPLES / "GetDescendants.json")["responses"]["200"]["body"]["value"]
    types = {item["type"] for item in shaped}
    assert {item["type"] for item in body["value"]} == types
    for item in body["value"]:
        assert set(item) == set(shaped[0]) and set(item["properties"]) == set(shaped[0]["properties"])
    subscriptions = [item["name"] for item in body["value"] if item["id"].startswith("/subscriptions/")]
    assert subscriptions == [PROD, LAB]
    status, _, _ = await raw(arm, "GET", path, token=token, api_version="2019-01-01")
    assert status == 400


async def deny_assignments(arm: ArmEmulator, token: str, scope: str, filter_text: str | None = None) -> list[Any]:
    path = f"{scope}/providers/Microsoft.Authorization/denyAssignments"
    query = f"?$filter={filter_text}" if filter_text else ""
    status, body, _ = await raw(arm, "GET", path + query, token=token, api_version="2022-04-01")
    assert status == 200, body
    assert problems(DENY_ASSIGNMENTS_SWAGGER, "DenyAssignmentListResult", body) == []
    return list(body["value"])


async def test_deny_assignments_follow_the_official_swagger_and_example(demo: Any) -> None:
    arm, token = demo
    shaped = example(AUTH_EXAMPLES / "GetDenyAssignmentByScope.json")["responses"]["200"]["body"]
    assert problems(DENY_ASSIGNMENTS_SWAGGER, "DenyAssignmentListResult", shaped) == []
    rg_web = f"/subscriptions/{PROD}/resourceGroups/rg-web"
    arm.inventory.deny_assignments.append(
        DenyAssignment("d-web", "Managed app lock", rg_web, [{"actions": ["*"], "notActions": ["*/read"]}], [EVERYONE])
    )

    at_vm = await deny_assignments(arm, token, WEB, "atScope()")
    at_db = await deny_assignments(arm, token, DB, "atScope()")
    below_subscription = await deny_assignments(arm, token, f"/subscriptions/{PROD}")
    above_only = await deny_assignments(arm, token, f"/subscriptions/{PROD}", "atScope()")

    assert [d["name"] for d in at_vm] == ["d-web"] and at_db == [] and above_only == []
    assert [d["properties"]["scope"] for d in below_subscription] == [rg_web]
    sample, model = at_vm[0], shaped["value"][0]
    assert set(model) <= set(sample) and set(model["properties"]) <= set(sample["properties"])
    assert sample["properties"]["principals"] == [{"id": EVERYONE[0], "type": "SystemDefined"}]
