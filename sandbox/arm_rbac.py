"""Microsoft.Authorization (role assignments, role definitions, deny assignments) and Microsoft.Management
(descendants) for the ARM emulator, following the vendored 2022-04-01 Authorization swaggers and Microsoft's REST
documentation.

Scopes nest as Azure's do: root ``/`` > management groups (by their parents) > subscription > resource group >
resource. A role assignment listing at a scope returns the assignments at, above and below it; ``atScope()``
keeps those at or above; ``assignedTo('{objectId}')`` keeps the user's own and those of every group the user is
in, transitively; ``principalId eq '{id}'`` keeps one principal's ("List Azure role assignments using the REST
API", MicrosoftDocs/azure-docs articles/role-based-access-control/role-assignments-list-rest.md).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from sandbox.arm_errors import ArmError, bad_request
from sandbox.arm_inventory import DenyAssignment, Inventory, ManagementGroup, RoleAssignment, RoleDefinition

AUTHORIZATION_VERSIONS = ("2015-07-01", "2018-01-01-preview", "2020-04-01-preview", "2022-04-01")
DENY_ASSIGNMENT_VERSIONS = ("2018-07-01-preview", "2022-04-01")
MANAGEMENT_VERSIONS = ("2020-02-01", "2020-05-01", "2020-10-01", "2021-04-01", "2023-04-01")
_MG = "/providers/microsoft.management/managementgroups/"
SUBSCRIPTION_DESCENDANT = "Microsoft.Management/managementGroups/subscriptions"
"""A subscription's ``type`` among descendants, as in the 2023-04-01 GetDescendants example (the swagger's own
description says ``/subscriptions``; clients must accept both)."""
_STAMP = "2024-03-01T09:00:00.0000000Z"
_CLAUSE = re.compile(
    r"^(?:(?P<at>atScope\(\))|assignedTo\('(?P<to>[^']*)'\)|principalId\s+eq\s+'(?P<pid>[^']*)')$", re.IGNORECASE
)


@dataclass(frozen=True)
class AssignmentFilter:
    """A parsed role assignment ``$filter``."""

    at_scope: bool = False
    assigned_to: str | None = None
    principal_id: str | None = None


def parse_filter(text: str | None) -> AssignmentFilter:
    """``atScope()``, ``assignedTo('…')`` and ``principalId eq '…'``, joined by ``and``; anything else is a 400."""
    if not text or not text.strip():
        return AssignmentFilter()
    at, to, pid = False, None, None
    for clause in re.split(r"\s+and\s+", text.strip(), flags=re.IGNORECASE):
        found = _CLAUSE.match(clause.strip())
        if found is None:
            raise bad_request("InvalidFilter", f"The filter '{text}' is not supported.")
        at = at or bool(found["at"])
        to = found["to"] if found["to"] is not None else to
        pid = found["pid"] if found["pid"] is not None else pid
    return AssignmentFilter(at, to, pid)


def _norm(scope: str) -> str:
    return "/" + "/".join(part for part in scope.lower().split("/") if part)


class Scopes:
    """The scope tree of one inventory."""

    def __init__(self, inventory: Inventory):
        self.inventory = inventory

    def group(self, group_id: str) -> ManagementGroup | None:
        """The management group with that id (case-insensitive)."""
        return next((g for g in self.inventory.management_groups if g.id.lower() == group_id.lower()), None)

    def groups_above(self, scope: str) -> list[str]:
        """The management group scopes above ``scope`` (a group's own ancestors, or a subscription's), lower-cased."""
        norm = _norm(scope)
        current: ManagementGroup | None
        if norm.startswith(_MG):
            own = self.group(norm[len(_MG) :].split("/")[0])
            current = self.group(own.parent) if own is not None and own.parent else None
        elif norm.startswith("/subscriptions/"):
            sub = norm.split("/")[2]
            current = next(
                (g for g in self.inventory.management_groups if sub in {s.lower() for s in g.subscriptions}), None
            )
        else:
            return []
        found: list[str] = []
        while current is not None and _norm(current.resource_id) not in found:
            found.append(_norm(current.resource_id))
            current = self.group(current.parent) if current.parent else None
        return found

    def contains(self, outer: str, inner: str) -> bool:
        """Whether ``outer`` is ``inner`` or one of its ancestors."""
        a, b = _norm(outer), _norm(inner)
        if a in ("/", b) or b.startswith(a + "/"):
            return True
        if a.startswith(_MG):
            return a in self.groups_above(b)
        return False


def assignments_at(inventory: Inventory, scope: str, query: AssignmentFilter) -> list[RoleAssignment]:
    """The role assignments a list call at ``scope`` returns for ``query``."""
    scopes = Scopes(inventory)
    principals: set[str] | None = None
    if query.assigned_to is not None:
        principals = {query.assigned_to.lower(), *inventory.directory.transitive_groups(query.assigned_to)}
    elif query.principal_id is not None:
        principals = {query.principal_id.lower()}
    found = []
    for assignment in inventory.role_assignments:
        above = scopes.contains(assignment.scope, scope)
        below = scopes.contains(scope, assignment.scope)
        if not (above or (below and not query.at_scope)):
            continue
        if principals is not None and assignment.principal_id.lower() not in principals:
            continue
        found.append(assignment)
    return found


def deny_assignments_at(inventory: Inventory, scope: str, query: AssignmentFilter) -> list[DenyAssignment]:
    """The deny assignments a list call at ``scope`` returns: at, above and below it, or with ``atScope()`` at and
    above it; ``principalId eq '…'`` keeps those naming that principal (the swagger's FilterParameter)."""
    if query.assigned_to is not None:
        raise bad_request("InvalidFilter", "The filter 'assignedTo' is not supported for deny assignments.")
    scopes = Scopes(inventory)
    found = []
    for deny in inventory.deny_assignments:
        above = scopes.contains(deny.scope, scope)
        below = scopes.contains(scope, deny.scope)
        if not (above or (below and not query.at_scope)):
            continue
        if query.principal_id is not None and query.principal_id.lower() not in {p.lower() for p, _ in deny.principals}:
            continue
        found.append(deny)
    return found


def deny_assignment_json(deny: DenyAssignment) -> dict[str, Any]:
    """A deny assignment as Azure lists it (the shape of the GetDenyAssignmentByScope example)."""
    scope = deny.scope.rstrip("/") or "/"
    prefix = "" if scope == "/" else scope
    return {
        "properties": {
            "denyAssignmentName": deny.display_name,
            "description": deny.description,
            "permissions": [
                {
                    "actions": list(block.get("actions", [])),
                    "notActions": list(block.get("notActions", [])),
                    "dataActions": list(block.get("dataActions", [])),
                    "notDataActions": list(block.get("notDataActions", [])),
                }
                for block in deny.permissions
            ],
            "scope": scope,
            "doNotApplyToChildScopes": deny.do_not_apply_to_child_scopes,
            "principals": [{"id": pid, "type": kind} for pid, kind in deny.principals],
            "excludePrincipals": [{"id": pid, "type": kind} for pid, kind in deny.exclude_principals],
            "isSystemProtected": True,
        },
        "id": f"{prefix}/providers/Microsoft.Authorization/denyAssignments/{deny.name}",
        "type": "Microsoft.Authorization/denyAssignments",
        "name": deny.name,
    }


def definition_id(request_scope: str, name: str) -> str:
    """How ARM names a role definition in a listing: under the request's subscription, else at the tenant."""
    parts = [p for p in request_scope.split("/") if p]
    if len(parts) >= 2 and parts[0].lower() == "subscriptions":
        return f"/subscriptions/{parts[1]}/providers/Microsoft.Authorization/roleDefinitions/{name}"
    return f"/providers/Microsoft.Authorization/roleDefinitions/{name}"


def role_assignment_json(assignment: RoleAssignment, request_scope: str) -> dict[str, Any]:
    """A role assignment as Azure returns it (fields ARM sends as null are left out; the swagger types them string)."""
    scope = assignment.scope.rstrip("/") or "/"
    prefix = "" if scope == "/" else scope
    return {
        "properties": {
            "roleDefinitionId": definition_id(request_scope, assignment.role),
            "principalId": assignment.principal_id,
            "principalType": assignment.principal_type,
            "scope": scope,
            "createdOn": _STAMP,
            "updatedOn": _STAMP,
            "createdBy": str(uuid.uuid5(uuid.NAMESPACE_URL, "creator")),
            "updatedBy": str(uuid.uuid5(uuid.NAMESPACE_URL, "creator")),
        },
        "id": f"{prefix}/providers/Microsoft.Authorization/roleAssignments/{assignment.name}",
        "type": "Microsoft.Authorization/roleAssignments",
        "name": assignment.name,
    }


def role_definition_json(definition: RoleDefinition, definition_id_as_asked: str) -> dict[str, Any]:
    """A role definition as ``GET {roleDefinitionId}`` returns it."""
    permissions = [
        {
            "actions": list(block.get("actions", [])),
            "notActions": list(block.get("notActions", [])),
            "dataActions": list(block.get("dataActions", [])),
            "notDataActions": list(block.get("notDataActions", [])),
        }
        for block in definition.permissions
    ]
    return {
        "properties": {
            "roleName": definition.role_name,
            "type": definition.role_type,
            "description": definition.description,
            "assignableScopes": list(definition.assignable_scopes),
            "permissions": permissions,
            "createdOn": _STAMP,
            "updatedOn": _STAMP,
        },
        "id": definition_id_as_asked,
        "type": "Microsoft.Authorization/roleDefinitions",
        "name": definition.name,
    }


def find_definition(inventory: Inventory, name: str) -> RoleDefinition:
    """The role definition by its GUID name, or ARM's 404."""
    found = next((d for d in inventory.role_definitions if d.name.lower() == name.lower()), None)
    if found is None:
        raise ArmError(
            404, "RoleDefinitionDoesNotExist", "The specified role definition with ID '" + name + "' does not exist."
        )
    return found


def check_scope(inventory: Inventory, scope: str) -> None:
    """ARM's 404s for a scope whose subscription or management group does not exist."""
    parts = [p for p in scope.split("/") if p]
    if len(parts) >= 2 and parts[0].lower() == "subscriptions":
        if not any(s.id.lower() == parts[1].lower() for s in inventory.subscriptions):
            raise ArmError(404, "SubscriptionNotFound", f"The subscription '{parts[1]}' could not be found.")
    elif _norm(scope).startswith(_MG) and Scopes(inventory).group(parts[3]) is None:
        raise ArmError(404, "NotFound", f"The management group '{parts[3]}' was not found.")


def descendants(inventory: Inventory, group_id: str) -> list[dict[str, Any]]:
    """Every management group and subscription below ``group_id``, parents before children (Get Descendants)."""
    scopes = Scopes(inventory)
    root = scopes.group(group_id)
    if root is None:
        raise ArmError(
            403,
            "AuthorizationFailed",
            f"The client does not have authorization to perform action "
            f"'Microsoft.Management/managementGroups/descendants/read' over scope "
            f"'/providers/Microsoft.Management/managementGroups/{group_id}' or the scope is invalid.",
        )
    names = {s.id.lower(): s.display_name for s in inventory.subscriptions}
    found: list[dict[str, Any]] = []
    queue = [root]
    while queue:
        parent = queue.pop(0)
        for sub in parent.subscriptions:
            found.append(
                {
                    "id": f"/subscriptions/{sub}",
                    "type": SUBSCRIPTION_DESCENDANT,
                    "name": sub,
                    "properties": {"displayName": names.get(sub.lower(), sub), "parent": {"id": parent.resource_id}},
                }
            )
        for child in [g for g in inventory.management_groups if (g.parent or "").lower() == parent.id.lower()]:
            found.append(
                {
                    "id": child.resource_id,
                    "type": "Microsoft.Management/managementGroups",
                    "name": child.id,
                    "properties": {"displayName": child.display_name, "parent": {"id": parent.resource_id}},
                }
            )
            queue.append(child)
    return found
