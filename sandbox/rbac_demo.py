"""The demo tenant's Azure RBAC: management groups over the two subscriptions, roles, and who holds what.

- ``sg-platform-engineers`` (alice, and erin through the nested ``sg-oncall``) may request JIT on ``rg-web`` (the
  custom "JIT VM Access" role on the resource group) and read everything (Reader on ``mg-contoso``);
- ``sg-oncall`` (erin) may request JIT anywhere in production ("JIT VM Access" on ``mg-production``, inherited);
- alice may request JIT in the lab (a direct assignment on its subscription) but **not** on ``rg-data``: her
  ``/jit ssh db-01 …`` shows approvers that her own Azure identity lacks the permission;
- the approvers (``sg-jit-approvers``) are Readers of production; dave (``sg-cloud-admins``) is Owner of it all.

Built-in role ids and permissions are Azure's ("Azure built-in roles", MicrosoftDocs/azure-docs
articles/role-based-access-control/built-in-roles.md); "JIT VM Access" is the role Microsoft's
Set-JitLeastPrivilegedRole script creates for requesting JIT from the portal (Azure/Microsoft-Defender-for-Cloud,
Powershell scripts/JIT Scripts/JIT Custom Role).
"""

from __future__ import annotations

from sandbox.arm_inventory import Inventory, ManagementGroup, RoleAssignment, RoleDefinition
from sandbox.entra import Directory, demo_directory, object_id

READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
JIT_VM_ACCESS = object_id("role:JIT VM Access")
ROOT_GROUP_NAME = "Tenant Root Group"


def roles() -> list[RoleDefinition]:
    """Reader and Owner as Azure defines them, and the custom JIT requester role."""
    return [
        RoleDefinition(
            READER,
            "Reader",
            "View all resources, but does not allow you to make any changes.",
            [{"actions": ["*/read"]}],
        ),
        RoleDefinition(
            OWNER,
            "Owner",
            "Grants full access to manage all resources, including the ability to assign roles in Azure RBAC.",
            [{"actions": ["*"]}],
        ),
        RoleDefinition(
            JIT_VM_ACCESS,
            "JIT VM Access",
            "Users that can enable access to Virtual Machines.",
            [
                {
                    "actions": [
                        "Microsoft.Security/locations/jitNetworkAccessPolicies/read",
                        "Microsoft.Security/locations/jitNetworkAccessPolicies/initiate/action",
                        "Microsoft.Security/policies/read",
                        "Microsoft.Network/publicIPAddresses/read",
                        "Microsoft.Compute/virtualMachines/read",
                        "Microsoft.Network/*/read",
                    ]
                }
            ],
            role_type="CustomRole",
            assignable_scopes=["/providers/Microsoft.Management/managementGroups/mg-contoso"],
        ),
    ]


def management_groups(tenant_id: str, production: str, lab: str) -> list[ManagementGroup]:
    """Tenant Root Group > Contoso > (Production: the production subscription, Sandbox: the lab)."""
    return [
        ManagementGroup(tenant_id, ROOT_GROUP_NAME),
        ManagementGroup("mg-contoso", "Contoso", tenant_id),
        ManagementGroup("mg-production", "Production", "mg-contoso", [production]),
        ManagementGroup("mg-sandbox", "Sandbox", "mg-contoso", [lab]),
    ]


def assignments(directory: Directory, production: str, lab: str) -> list[RoleAssignment]:
    """Who holds which role where (see the module docstring)."""

    def group(name: str) -> str:
        return directory.group(name).id

    def user(upn: str) -> str:
        found = directory.user(upn)
        assert found is not None, upn
        return found.id

    mg = "/providers/Microsoft.Management/managementGroups"
    made = [
        (f"/subscriptions/{production}/resourceGroups/rg-web", JIT_VM_ACCESS, group("sg-platform-engineers"), "Group"),
        (f"{mg}/mg-contoso", READER, group("sg-platform-engineers"), "Group"),
        (f"{mg}/mg-production", JIT_VM_ACCESS, group("sg-oncall"), "Group"),
        (f"/subscriptions/{lab}", JIT_VM_ACCESS, user("alice@contoso.com"), "User"),
        (f"/subscriptions/{production}", READER, group("sg-jit-approvers"), "Group"),
        (f"{mg}/mg-contoso", OWNER, group("sg-cloud-admins"), "Group"),
    ]
    return [
        RoleAssignment(object_id(f"assignment:{scope}:{role}:{principal}"), scope, role, principal, kind)
        for scope, role, principal, kind in made
    ]


def add_demo_rbac(inventory: Inventory, production: str, lab: str) -> None:
    """Give ``inventory`` the demo directory, management groups, roles and role assignments."""
    directory = demo_directory()
    inventory.directory = directory
    inventory.management_groups = management_groups(directory.tenant_id, production, lab)
    inventory.role_definitions = roles()
    inventory.role_assignments = assignments(directory, production, lab)
