"""Azure RBAC reads (Microsoft.Authorization 2022-04-01): the role assignments that apply to a person at a scope,
role definitions, and the deny assignments at a scope.

``$filter=atScope() and assignedTo('{objectId}')`` at the VM's id lists the assignments at the VM and above it
(resource group, subscription, management groups, root) for the user, including those made to groups the user
belongs to, transitively ("List Azure role assignments using the REST API", MicrosoftDocs/azure-docs
articles/role-based-access-control/role-assignments-list-rest.md). ARM expands the groups itself, so jitbot needs
no Graph group permission for it.
"""

from __future__ import annotations

from typing import Any

from azure.core.rest import HttpRequest

from jit.azure.clients import ArmClients
from jit.azure.failures import azure_errors

RawJson = dict[str, Any]
AUTHORIZATION_API_VERSION = "2022-04-01"


class AuthorizationReader:
    """One method per RBAC read; no caching here."""

    def __init__(self, clients: ArmClients):
        self._clients = clients

    async def role_assignments(self, scope: str, principal_id: str) -> list[RawJson]:
        """The role assignments at or above ``scope`` for ``principal_id`` and every group it is in."""
        path = f"{scope.rstrip('/')}/providers/Microsoft.Authorization/roleAssignments"
        query = f"atScope() and assignedTo('{principal_id}')"
        return await self._list(path, {"api-version": AUTHORIZATION_API_VERSION, "$filter": query})

    async def deny_assignments(self, scope: str) -> list[RawJson]:
        """The deny assignments at or above ``scope`` (``$filter=atScope()``), for every principal: deny
        assignments name groups and "Everyone", so jitbot applies principals and exclusions itself."""
        path = f"{scope.rstrip('/')}/providers/Microsoft.Authorization/denyAssignments"
        return await self._list(path, {"api-version": AUTHORIZATION_API_VERSION, "$filter": "atScope()"})

    async def role_definition(self, definition_id: str) -> RawJson:
        """One role definition by its full id (as a role assignment names it)."""
        client = self._clients.plain()
        with azure_errors():
            response = await client.send_request(
                HttpRequest("GET", client.format_url(definition_id), params={"api-version": AUTHORIZATION_API_VERSION})
            )
            response.raise_for_status()
            body = response.json()
        return body if isinstance(body, dict) else {}

    async def _list(self, path: str, params: dict[str, str]) -> list[RawJson]:
        client = self._clients.plain()
        url: str | None = path
        query: dict[str, str] | None = params
        found: list[RawJson] = []
        with azure_errors():
            while url:
                response = await client.send_request(HttpRequest("GET", client.format_url(url), params=query))
                response.raise_for_status()
                body = response.json()
                found.extend(item for item in body.get("value") or [] if isinstance(item, dict))
                url, query = body.get("nextLink"), None
        return found
