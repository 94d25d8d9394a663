"""`jitbot doctor`'s Azure checks: the credential gets a token, and each subscription is usable for JIT."""

from __future__ import annotations

from collections.abc import Mapping

from jit.azure.clients import ArmClients
from jit.azure.failures import azure_errors
from jit.azure.graph import GRAPH_PERMISSION, GraphUsers
from jit.azure.reads import ArmReader
from jit.azure.subscriptions import SubscriptionSource
from jit.checks import Check
from jit.ports.azure_errors import AzureForbidden, AzureJitError

AREA = "Azure"


async def diagnose(clients: ArmClients, source: SubscriptionSource) -> list[Check]:
    """Token, the management group's subscriptions, then per subscription: VMs, JIT policies, Defender for Servers."""
    checks: list[Check] = []
    try:
        with azure_errors():
            await clients.credential.get_token(*clients.credential_scopes)
        checks.append(Check.passed(AREA, "credential obtains a token", clients.credential_scopes[0]))
    except (AzureJitError, ValueError) as exc:
        detail = getattr(exc, "user_message", str(exc))
        checks.append(
            Check.failed(
                AREA,
                "credential obtains a token",
                detail,
                "Give jitbot an identity DefaultAzureCredential finds: a managed identity (AZURE_CLIENT_ID for a "
                "user-assigned one), workload identity, or AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET.",
            )
        )
        return checks
    subscription_ids = await _subscriptions(source, checks)
    if subscription_ids is None:
        return checks
    if not subscription_ids:
        fix = (
            f"Move subscriptions under management group {source.management_group}, or check its id."
            if source.management_group
            else "Set AZURE_SUBSCRIPTION_IDS (comma-separated) or AZURE_MANAGEMENT_GROUP."
        )
        checks.append(Check.failed(AREA, "subscriptions configured", "none", fix))
    reader = ArmReader(clients)
    for subscription in subscription_ids:
        checks.extend(await _subscription_checks(reader, subscription))
    return checks


async def _subscriptions(source: SubscriptionSource, checks: list[Check]) -> tuple[str, ...] | None:
    """The subscriptions to check; under a management group, one line listing them (None when it cannot be read)."""
    group = source.management_group
    if group is None:
        return await source.current()
    name = f"management group {group}: subscriptions"
    try:
        found = await source.current()
    except AzureJitError as exc:
        checks.append(
            Check.failed(
                AREA,
                name,
                exc.user_message,
                f"Assign the 'jitbot requester' role (it has Microsoft.Management/managementGroups/descendants/read) "
                f"to jitbot's identity on /providers/Microsoft.Management/managementGroups/{group}, and check the id.",
            )
        )
        return None
    checks.append(Check.passed(AREA, name, f"{len(found)}: " + ", ".join(found) if found else "0"))
    return found


async def graph_checks(clients: ArmClients, identity_map: Mapping[str, str] | None = None) -> list[Check]:
    """Microsoft Graph: a token for ``MICROSOFT_GRAPH_ENDPOINT``, the ``User.Read.All`` permission that looking
    people up needs (for any Azure RBAC check), and that every ``JITBOT_IDENTITY_MAP`` entry is an enabled user."""
    area = "Microsoft Graph"
    fix = (
        f"Grant jitbot's identity the Microsoft Graph application permission {GRAPH_PERMISSION} "
        "(docs/deploy.md shows the az commands), or set JITBOT_REQUESTER_RBAC=off."
    )
    try:
        with azure_errors():
            await clients.credential.get_token(*clients.graph_scopes)
    except (AzureJitError, ValueError) as exc:
        detail = getattr(exc, "user_message", str(exc))
        return [Check.failed(area, "credential obtains a Graph token", detail, fix)]
    checks = [Check.passed(area, "credential obtains a Graph token", clients.graph_scopes[0])]
    try:
        await GraphUsers(clients).probe()
    except AzureForbidden as exc:
        checks.append(Check.failed(area, f"{GRAPH_PERMISSION} granted (users readable)", exc.user_message, fix))
    except AzureJitError as exc:
        checks.append(
            Check.failed(
                area,
                f"{GRAPH_PERMISSION} granted (users readable)",
                exc.user_message,
                f"Check MICROSOFT_GRAPH_ENDPOINT ({clients.graph_endpoint}) and network access to it.",
            )
        )
    else:
        checks.append(Check.passed(area, f"{GRAPH_PERMISSION} granted (users readable)", "GET /v1.0/users ok"))
        checks += await _identity_map_checks(GraphUsers(clients), identity_map or {})
    return checks


async def _identity_map_checks(graph: GraphUsers, identity_map: Mapping[str, str]) -> list[Check]:
    """One failure per JITBOT_IDENTITY_MAP entry that names no enabled Entra ID user, or one line saying all do."""
    if not identity_map:
        return []
    area = "Microsoft Graph"
    fix = "Correct the entry in JITBOT_IDENTITY_MAP: an Entra ID object id or user principal name of an enabled user."
    failed: list[Check] = []
    for slack_user, key in identity_map.items():
        try:
            user = await graph.get(key)
        except AzureJitError as exc:
            failed.append(Check.failed(area, f"identity map {slack_user}", exc.user_message, fix))
            continue
        if user is None:
            failed.append(Check.failed(area, f"identity map {slack_user}", f"no Entra ID user is `{key}`", fix))
        elif not user.account_enabled:
            failed.append(
                Check.failed(area, f"identity map {slack_user}", f"`{user.user_principal_name}` is disabled", fix)
            )
    if failed:
        return failed
    return [Check.passed(area, "identity map entries exist", f"{len(identity_map)} Entra ID users found")]


async def _subscription_checks(reader: ArmReader, subscription: str) -> list[Check]:
    role_fix = (
        f"Assign the 'jitbot requester' role (deploy/azure/jitbot-role.json) to jitbot's identity on "
        f"/subscriptions/{subscription}."
    )
    checks: list[Check] = []
    steps = (
        ("VMs readable", reader.virtual_machines, role_fix),
        ("JIT policies listable", reader.jit_policies, role_fix),
    )
    for name, read, fix in steps:
        try:
            with azure_errors():
                found = await read(subscription)
            checks.append(Check.passed(AREA, f"{subscription}: {name}", f"{len(found)} found"))
        except AzureForbidden as exc:
            checks.append(Check.failed(AREA, f"{subscription}: {name}", exc.user_message, fix))
            return checks
        except AzureJitError as exc:
            checks.append(Check.failed(AREA, f"{subscription}: {name}", exc.user_message, fix))
            return checks
    try:
        with azure_errors():
            enabled = await reader.defender_for_servers(subscription)
    except AzureJitError as exc:
        checks.append(Check.failed(AREA, f"{subscription}: Defender for Servers", exc.user_message, role_fix))
        return checks
    if enabled:
        checks.append(Check.passed(AREA, f"{subscription}: Defender for Servers", "on (Standard)"))
    else:
        checks.append(
            Check.failed(
                AREA,
                f"{subscription}: Defender for Servers",
                "off: JIT is unavailable for every VM in this subscription",
                "Enable the Defender for Servers plan in Microsoft Defender for Cloud > Environment settings.",
            )
        )
    return checks
