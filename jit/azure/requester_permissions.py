"""The requester's own Azure RBAC on a VM: Slack email → Entra ID user (Graph) → role assignments that apply at the
VM (ARM, groups and inheritance resolved by Azure) → their role definitions → what of ``REQUIRED_ACTIONS`` is
missing.

Verdicts are cached per person and VM, role definitions and Entra users for every lookup, so a warm ``/jit``
makes no Graph or ARM call. A verdict that could not be made is kept only briefly, so a fixed permission or a
recovered Graph shows up on the next try. Deny assignments are not evaluated: Azure creates them only for
managed applications, Blueprints and deployment stacks, and applying them needs the person's group memberships.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from jit.azure.authorization import AuthorizationReader
from jit.azure.cache import TtlCache
from jit.azure.graph import GRAPH_PERMISSION, EntraUser, GraphUsers
from jit.azure.rbac_eval import applies_to, missing
from jit.clock import Clock
from jit.errors import IdentityUnavailable
from jit.model import RbacVerdict, VmRef
from jit.ports import PeopleEmails
from jit.ports.azure_errors import AzureAuthFailed, AzureForbidden, AzureJitError
from jit.requester_access import REQUIRED_ACTIONS

log = logging.getLogger(__name__)
RawJson = dict[str, Any]
VERDICT_TTL = timedelta(minutes=5)
UNVERIFIED_TTL = timedelta(seconds=30)


class AzureRequesterPermissions:
    """Implements ``jit.ports.RequesterPermissions`` on Microsoft Graph and Azure RBAC."""

    def __init__(
        self,
        emails: PeopleEmails,
        graph: GraphUsers,
        authorization: AuthorizationReader,
        clock: Clock,
        *,
        ttl: timedelta = VERDICT_TTL,
        unverified_ttl: timedelta = UNVERIFIED_TTL,
    ):
        self._emails = emails
        self._graph = graph
        self._authorization = authorization
        self._verdicts: TtlCache[tuple[str, str], RbacVerdict] = TtlCache(clock, ttl)
        self._unverified: TtlCache[tuple[str, str], RbacVerdict] = TtlCache(clock, unverified_ttl)
        self._users: TtlCache[str, EntraUser] = TtlCache(clock, ttl)
        self._definitions: TtlCache[str, RawJson] = TtlCache(clock, ttl)

    async def check(self, requester: str, vm: VmRef) -> RbacVerdict:
        """The verdict for Slack user ``requester`` on ``vm``; a failed lookup gives an unverified verdict."""
        key = (requester, vm.id.lower())
        recent = self._unverified.peek(key)
        if recent is not None:
            return recent

        async def load() -> RbacVerdict:
            return await self._verdict(requester, vm)

        verdict = await self._verdicts.get(key, load)
        if verdict.reason:
            self._verdicts.invalidate(key)
            self._unverified.put(key, verdict)
        return verdict

    async def _verdict(self, requester: str, vm: VmRef) -> RbacVerdict:
        try:
            email = await self._emails.email_of(requester)
        except IdentityUnavailable as exc:
            return RbacVerdict.unverified(exc.reason)
        try:
            user = await self._user(email)
        except IdentityUnavailable as exc:
            return RbacVerdict.unverified(exc.reason)
        except AzureJitError as exc:
            log.warning("rbac.graph_failed", extra={"error": type(exc).__name__})
            return RbacVerdict.unverified(_graph_reason(exc))
        try:
            definitions = await self._definitions_for(user, vm)
        except AzureJitError as exc:
            log.warning("rbac.arm_failed", extra={"error": type(exc).__name__})
            return RbacVerdict.unverified(_arm_reason(exc), user.user_principal_name)
        lacking = missing(definitions, REQUIRED_ACTIONS)
        if lacking:
            return RbacVerdict.lacking(user.user_principal_name, lacking)
        return RbacVerdict.allowed(user.user_principal_name)

    async def _user(self, email: str) -> EntraUser:
        async def load() -> EntraUser:
            found = await self._graph.find_by_email(email)
            if not found:
                raise IdentityUnavailable(f"no Entra ID user has the email `{email}` (as UPN or mail).")
            if len(found) > 1:
                raise IdentityUnavailable(f"{len(found)} Entra ID users have the email `{email}`; it must be one.")
            if not found[0].account_enabled:
                raise IdentityUnavailable(f"the Entra ID account `{found[0].user_principal_name}` is disabled.")
            return found[0]

        return await self._users.get(email.lower(), load)

    async def _definitions_for(self, user: EntraUser, vm: VmRef) -> list[RawJson]:
        assignments = await self._authorization.role_assignments(vm.id, user.id)
        ids: list[str] = []
        for assignment in assignments:
            props = assignment.get("properties") or {}
            definition_id = str(props.get("roleDefinitionId") or "")
            if definition_id and applies_to(str(props.get("scope") or ""), vm.id) and definition_id not in ids:
                ids.append(definition_id)
        return list(await asyncio.gather(*(self._definition(definition_id) for definition_id in ids)))

    async def _definition(self, definition_id: str) -> RawJson:
        async def load() -> RawJson:
            return await self._authorization.role_definition(definition_id)

        return await self._definitions.get(definition_id.lower(), load)


def _graph_reason(exc: AzureJitError) -> str:
    if isinstance(exc, AzureForbidden):
        return (
            f"jitbot's identity lacks the Microsoft Graph application permission {GRAPH_PERMISSION}, so it cannot "
            "look up Entra ID users (see docs/deploy.md)."
        )
    if isinstance(exc, AzureAuthFailed):
        return "jitbot could not get a Microsoft Graph token (check MICROSOFT_GRAPH_ENDPOINT and its identity)."
    return f"Microsoft Graph did not answer the user lookup: {exc.user_message}"


def _arm_reason(exc: AzureJitError) -> str:
    if isinstance(exc, AzureForbidden):
        return (
            "jitbot's identity may not read role assignments and role definitions on this VM "
            "(it needs Microsoft.Authorization/roleAssignments/read and roleDefinitions/read: "
            "deploy/azure/jitbot-role.json)."
        )
    return f"Azure did not answer the role assignment lookup: {exc.user_message}"
