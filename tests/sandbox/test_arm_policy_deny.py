"""Azure Policy denying JIT on a VM: the emulator answers a JIT PUT with ARM's 403 ``RequestDisallowedByPolicy``.

Driven through the real azure-mgmt-security client (and raw HTTPS for the exact body), so the error reaches the
SDK the way Azure's would.
"""

from __future__ import annotations

import io
import json
import re
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from azure.identity.aio import ManagedIdentityCredential
from azure.mgmt.security.aio import SecurityCenter

from sandbox.arm import ArmEmulator
from sandbox.arm_inventory import Inventory
from tests.sandbox.arm_support import (  # noqa: F401
    LOCATION,
    RG,
    SUB,
    add_policy,
    arm_fixture,
    clock_fixture,
    credential_fixture,
    policy_body,
    port,
    raw,
    rules,
    security,
    token_for,
    vm_entry,
    world_fixture,
)

ASSIGNMENT = "Locked-down VMs: no just-in-time access"
POLICY_PATH = (
    f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Security/locations/{LOCATION}"
    "/jitNetworkAccessPolicies/default"
)
IDENTIFIERS = re.compile(r"^Resource 'default' was disallowed by policy\. Policy identifiers: '(?P<ids>.*)'\.$")


@pytest.fixture
def locked(world: Inventory) -> Inventory:
    """vm2 sits under a deny assignment for JIT policy writes."""
    world.vm("vm2").jit_denied_by_policy = ASSIGNMENT
    return world


async def put(client: SecurityCenter, body: Any) -> Any:
    return await client.jit_network_access_policies.create_or_update(
        RG, LOCATION, "default", io.BytesIO(json.dumps(body).encode())
    )


async def test_adding_a_denied_vm_gets_azures_policy_refusal_and_changes_nothing(
    arm: ArmEmulator, credential: ManagedIdentityCredential, locked: Inventory
) -> None:
    vm1, vm2 = locked.vm("vm1"), locked.vm("vm2")
    body = policy_body(vm_entry(vm1, port(22)), vm_entry(vm2, port(3389)))
    async with security(arm, credential) as client:
        with pytest.raises(HttpResponseError) as refused:
            await put(client, body)
    assert refused.value.status_code == 403
    assert refused.value.error is not None and refused.value.error.code == "RequestDisallowedByPolicy"
    assert locked.policies == [] and rules(locked) == []

    status, answer, _ = await raw(arm, "PUT", POLICY_PATH, token=await token_for(credential), body=body)
    assert status == 403
    error = answer["error"]
    assert list(error) == ["code", "target", "message", "additionalInfo"]
    assert error["code"] == "RequestDisallowedByPolicy" and error["target"] == "default"
    match = IDENTIFIERS.match(error["message"])
    assert match is not None
    [identifiers] = json.loads(match["ids"])
    scope = f"/subscriptions/{SUB}/resourceGroups/{RG}"
    assert identifiers["policyAssignment"]["name"] == ASSIGNMENT
    assignment_id = identifiers["policyAssignment"]["id"]
    assert re.fullmatch(
        re.escape(scope) + r"/providers/Microsoft\.Authorization/policyAssignments/[0-9a-f]{24}", assignment_id
    )
    assert identifiers["policyDefinition"]["id"].startswith(f"/subscriptions/{SUB}/providers/Microsoft.Authorization/")
    [violation] = error["additionalInfo"]
    assert violation["type"] == "PolicyViolation"
    info = violation["info"]
    assert info["policyAssignmentDisplayName"] == ASSIGNMENT and info["policyAssignmentId"] == assignment_id
    assert info["policyAssignmentName"] == assignment_id.rsplit("/", 1)[1]
    assert info["policyAssignmentScope"] == scope and info["policyDefinitionEffect"] == "Deny"
    [expression] = info["evaluationDetails"]["evaluatedExpressions"]
    assert expression["expressionValue"] == "Microsoft.Security/locations/jitNetworkAccessPolicies"
    assert [c.status for c in arm.writes()] == [403, 403]


async def test_neighbours_may_change_while_the_denied_vm_is_resent_unchanged_or_removed(
    arm: ArmEmulator, credential: ManagedIdentityCredential, locked: Inventory
) -> None:
    vm1, vm2 = locked.vm("vm1"), locked.vm("vm2")
    add_policy(locked, vm_entry(vm1, port(22)), vm_entry(vm2, port(3389)))
    async with security(arm, credential) as client:
        await put(client, policy_body(vm_entry(vm1, port(22), port(8080)), vm_entry(vm2, port(3389))))
        with pytest.raises(HttpResponseError) as changed:
            await put(client, policy_body(vm_entry(vm1, port(22), port(8080)), vm_entry(vm2, port(3389, "PT1H"))))
        assert changed.value.status_code == 403
        [policy] = locked.policies
        assert [[p["number"] for p in e["ports"]] for e in policy.virtual_machines] == [[22, 8080], [3389]]
        assert policy.virtual_machines[1]["ports"][0]["maxRequestAccessDuration"] == "PT3H"
        await put(client, policy_body(vm_entry(vm1, port(22))))
    assert [e["id"] for e in policy.virtual_machines] == [vm1.id]


async def test_lifting_the_assignment_lets_the_same_write_through(
    arm: ArmEmulator, credential: ManagedIdentityCredential, locked: Inventory
) -> None:
    body = policy_body(vm_entry(locked.vm("vm2"), port(3389)))
    async with security(arm, credential) as client:
        with pytest.raises(HttpResponseError):
            await put(client, body)
        locked.vm("vm2").jit_denied_by_policy = None
        answered = await put(client, body)
    assert answered.virtual_machines[0].id == locked.vm("vm2").id
