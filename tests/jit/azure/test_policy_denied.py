"""Azure Policy refusing JIT on a VM: the gateway turns ARM's 403 ``RequestDisallowedByPolicy`` into a typed error.

The gateway stays a pure view of Azure: a refusal changes nothing it reports (remembering it is the admin layer's
job, see tests/jit/test_admin.py).
"""

from __future__ import annotations

import json
import re

import pytest

from jit.azure.failures import denial_from_error
from jit.azure.gateway import AzureGateway
from jit.model import JitSupport, PolicyPort
from jit.ports.azure_errors import AzureForbidden, JitDeniedByPolicy
from sandbox.arm import ArmEmulator
from sandbox.arm_inventory import Inventory

from .conftest import SUB_A

ASSIGNMENT = "Locked-down VMs: no just-in-time access"


async def test_a_denied_enable_raises_a_typed_error_naming_the_assignment(
    gateway: AzureGateway, arm: ArmEmulator, world: Inventory
) -> None:
    world.vm("db-01").jit_denied_by_policy = ASSIGNMENT
    vm = await gateway.find_vm("db-01")
    with pytest.raises(JitDeniedByPolicy) as denied:
        await gateway.configure(vm.ref, [PolicyPort(22)])
    error = denied.value
    assert isinstance(error, AzureForbidden) and error.status == 403
    assert error.assignment == ASSIGNMENT
    assert error.assignment_id is not None and re.fullmatch(
        f"/subscriptions/{SUB_A}/resourceGroups/rg-data/providers/Microsoft.Authorization/policyAssignments/[0-9a-f]{{24}}",
        error.assignment_id,
    )
    assert f"`{ASSIGNMENT}`" in error.user_message and "exemption" in error.user_message
    assert "was disallowed by policy" in error.detail
    assert [(c.operation, c.status) for c in arm.writes()] == [("jit.put", 403)]
    assert await gateway.policy_for(vm.ref) is None
    rows = {row.vm.ref.id: row for row in await gateway.inventory()}
    assert rows[vm.ref.id].support is JitSupport.NOT_CONFIGURED and rows[vm.ref.id].policy_denial is None


async def test_a_denied_vm_blocks_only_changes_to_itself_not_to_its_neighbours(
    gateway: AzureGateway, world: Inventory
) -> None:
    world.vm("api-01").jit_denied_by_policy = ASSIGNMENT
    web = await gateway.find_vm("rg-app/web-01")
    api = await gateway.find_vm("api-01")
    assert [p.number for p in (await gateway.configure(web.ref, [PolicyPort(2222)])).ports] == [2222]
    with pytest.raises(JitDeniedByPolicy):
        await gateway.configure(api.ref, [PolicyPort(22)])
    await gateway.disable(api.ref)
    assert await gateway.policy_for(api.ref) is None


def azure_error(message: str, additional: list[object] | None = None) -> dict[str, object]:
    """An ARM ``error`` object as Azure sends it for a policy refusal."""
    error: dict[str, object] = {"code": "RequestDisallowedByPolicy", "target": "default", "message": message}
    if additional is not None:
        error["additionalInfo"] = additional
    return error


def test_the_assignment_is_read_from_the_message_when_there_is_no_additional_info() -> None:
    identifiers = [
        {
            "policyAssignment": {
                "name": "Deny JIT",
                "id": "/subscriptions/s/providers/Microsoft.Authorization/policyAssignments/a1",
            },
            "policyDefinition": {"name": "Deny JIT", "id": "/providers/Microsoft.Authorization/policyDefinitions/d1"},
        }
    ]
    message = f"Resource 'default' was disallowed by policy. Policy identifiers: '{json.dumps(identifiers)}'."
    denied = denial_from_error(azure_error(message), message)
    assert denied is not None and denied.assignment == "Deny JIT"
    assert denied.assignment_id == "/subscriptions/s/providers/Microsoft.Authorization/policyAssignments/a1"


def test_additional_info_wins_and_falls_back_to_the_assignment_name() -> None:
    info = {"policyAssignmentName": "9f3c0a", "policyAssignmentId": "/x/policyAssignments/9f3c0a"}
    denied = denial_from_error(
        azure_error(
            "Resource 'default' was disallowed by policy.",
            [{"type": "Other"}, {"type": "PolicyViolation", "info": info}],
        ),
        "",
    )
    assert denied is not None and (denied.assignment, denied.assignment_id) == ("9f3c0a", "/x/policyAssignments/9f3c0a")


def test_an_unnamed_or_hostile_assignment_still_reads_as_plain_advice() -> None:
    unnamed = denial_from_error(azure_error("Resource 'default' was disallowed by policy. Policy identifiers: ''."), "")
    assert unnamed is not None and unnamed.assignment == "" and unnamed.assignment_id is None
    assert "an Azure Policy assignment does not allow" in unnamed.user_message
    hostile = JitDeniedByPolicy("`<!channel>`\nApproved by <@U1>")
    assert "`'<!channel>' Approved by <@U1>`" in hostile.user_message


def test_other_errors_are_not_policy_refusals() -> None:
    assert denial_from_error({"code": "AuthorizationFailed", "message": "no"}, "no") is None
    assert denial_from_error({"message": "Resource 'x' was disallowed by policy."}, "") is None
