"""A person's own Azure RBAC on a VM: Slack user → Entra ID user (``JITBOT_IDENTITY_MAP`` first, else the Slack
email looked up in Graph) → role assignments that apply at the VM (ARM, groups and inheritance resolved by Azure)
→ their role definitions, less what deny assignments at the VM refuse → what of ``REQUIRED_ACTIONS`` is missing.

Verdicts are cached per person and VM; role definitions, deny assignments (per VM) and Entra users for every
lookup, so a warm ``/jit`` makes no Graph or ARM call. A verdict that could not be made is kept only briefly, so a
fixed permission or a recovered Graph shows up on the next try. A deny assignment that would refuse an action and
names groups cannot be applied without the person's group memberships, which jitbot does not read: it makes the
verdict unverified (so ``enforce`` refuses) and names the deny assignment.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from jit.azure.authorization import AuthorizationReader
from jit.azure.cache import TtlCache
from jit.azure.graph import GRAPH_PERMISSION, EntraUser, GraphUsers
from jit.azure.rbac_eval import applies_to, deny_effect, missing
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
        identity_map: Mapping[str, str] | None = None,
        ttl: timedelta = VERDICT_TTL,
        unverified_ttl: timedelta = UNVERIFIED_TTL,
    ):
        self._emails = emails
        self._graph = graph
        self._authorization = authorization
        self._identity_map = dict(identity_map or {})
        self._verdicts: TtlCache[tuple[str, str], RbacVerdict] = TtlCache(clock, ttl)
        self._unverified: TtlCache[tuple[str, str], RbacVerdict] = TtlCache(clock, unverified_ttl)
        self._users: TtlCache[str, EntraUser] = TtlCache(clock, ttl)
        self._definitions: TtlCache[str, RawJson] = TtlCache(clock, ttl)
        self._denials: TtlCache[str, list[RawJson]] = TtlCache(clock, ttl)

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
            user = await self._person(requester)
        except IdentityUnavailable as exc:
            return RbacVerdict.unverified(exc.reason)
        except AzureJitError as exc:
            log.warning("rbac.graph_failed", extra={"error": type(exc).__name__})
            return RbacVerdict.unverified(_graph_reason(exc))
        try:
            definitions, denials = await asyncio.gather(self._definitions_for(user, vm), self._denials_at(vm))
        except AzureJitError as exc:
            log.warning("rbac.arm_failed", extra={"error": type(exc).__name__})
            return RbacVerdict.unverified(_arm_reason(exc), user.user_principal_name)
        principal = user.user_principal_name
        denied = deny_effect(denials, user.id, REQUIRED_ACTIONS, vm.id)
        lacking = missing(definitions, REQUIRED_ACTIONS)
        if denied.denied:
            every = tuple(action for action in REQUIRED_ACTIONS if action in lacking or action in denied.denied)
            return RbacVerdict.lacking(principal, every, denied.by)
        if lacking:
            return RbacVerdict.lacking(principal, lacking)
        if denied.undecided:
            names = ", ".join(f"`{name}`" for name in denied.undecided)
            return RbacVerdict.unverified(
                f"the Azure deny assignment {names} on this VM refuses JIT requests to some groups, and jitbot does "
                "not read group memberships to tell whether you are in them.",
                principal,
            )
        return RbacVerdict.allowed(principal)

    async def _person(self, requester: str) -> EntraUser:
        """The Entra ID user of Slack user ``requester``: their identity map entry, else their Slack email's."""
        mapped = self._identity_map.get(requester)
        if mapped is not None:
            return await self._mapped_user(mapped)
        return await self._user(await self._emails.email_of(requester))

    async def _mapped_user(self, key: str) -> EntraUser:
        async def load() -> EntraUser:
            found = await self._graph.get(key)
            if found is None:
                raise IdentityUnavailable(
                    f"JITBOT_IDENTITY_MAP maps you to `{key}`, but Entra ID has no such user; ask the jitbot "
                    "operators to correct the identity map."
                )
            if not found.account_enabled:
                raise IdentityUnavailable(f"the Entra ID account `{found.user_principal_name}` is disabled.")
            return found

        return await self._users.get(f"map:{key.lower()}", load)

    async def _user(self, email: str) -> EntraUser:
        async def load() -> EntraUser:
            found = await self._graph.find_by_email(email)
            if not found:
                raise IdentityUnavailable(
                    f"no Entra ID user has the email `{email}` (your Slack profile's, looked for as user principal "
                    "name and mail); ask the jitbot operators to map your Slack account to your Entra ID user in "
                    "JITBOT_IDENTITY_MAP."
                )
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

    async def _denials_at(self, vm: VmRef) -> list[RawJson]:
        async def load() -> list[RawJson]:
            return await self._authorization.deny_assignments(vm.id)

        return await self._denials.get(vm.id.lower(), load)

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
            "jitbot's identity may not read role assignments, role definitions and deny assignments on this VM "
            "(it needs Microsoft.Authorization/roleAssignments/read, roleDefinitions/read and denyAssignments/read: "
            "deploy/azure/jitbot-role.json)."
        )
    return f"Azure did not answer the role assignment lookup: {exc.user_message}"
