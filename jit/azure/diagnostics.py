"""`jitbot doctor`'s Azure checks: the credential gets a token, and each subscription is usable for JIT."""

from __future__ import annotations

from jit.azure.clients import ArmClients
from jit.azure.errors import AzureForbidden, AzureJitError
from jit.azure.failures import azure_errors
from jit.azure.reads import ArmReader
from jit.checks import Check

AREA = "Azure"


async def diagnose(clients: ArmClients, subscription_ids: tuple[str, ...]) -> list[Check]:
    """Token, then per subscription: VMs readable, JIT policies listable, Defender for Servers on."""
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
    if not subscription_ids:
        checks.append(
            Check.failed(AREA, "subscriptions configured", "none", "Set AZURE_SUBSCRIPTION_IDS (comma-separated).")
        )
    reader = ArmReader(clients)
    for subscription in subscription_ids:
        checks.extend(await _subscription_checks(reader, subscription))
    return checks


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
