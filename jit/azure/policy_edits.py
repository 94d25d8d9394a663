"""Editing a JIT policy that others edit too, without losing their changes.

A policy is one document per resource group and region, and a PUT replaces its whole VM list; Azure offers no
ETag or conditional write for it, and the portal, the CLI, other tools and other jitbot replicas all write it.
jitbot's own writers take turns through a lock (``jit.admin``); against everyone else each edit here:

1. computes the new VM list from a fresh read, resending every other VM's entry exactly as Azure returned it;
2. reads the policy again right before writing, and starts over from that document if anyone changed it;
3. writes (or deletes the policy when no VM is left in it), then reads it back: if our change is not there,
   someone's write replaced ours, and it starts over from the fresh document.

After ``MAX_ATTEMPTS`` rounds it gives up with an error that says exactly what happened. The residual risk is a
write by someone else between step 2's read and our write (milliseconds), which Azure gives us no way to detect.
The document's other properties are sent back as Azure returned them, except the read-only ``provisioningState``
and the ``requests`` history, which Azure keeps itself (resending a stale copy could drop an initiate made
in between).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from jit.azure.reads import ArmReader
from jit.azure.writes import ArmWriter
from jit.ports.azure_errors import AzureJitError

log = logging.getLogger(__name__)

RawJson = dict[str, Any]
MAX_ATTEMPTS = 3
SERVER_KEPT = frozenset({"requests", "provisioningState"})
Change = Callable[[RawJson | None], list[RawJson]]
"""Given the policy as Azure has it now (None: no policy yet), the VM list it should have."""
Done = Callable[[RawJson | None], bool]
"""Whether the policy as read back holds the change."""


class PolicyKeptChanging(AzureJitError):
    """Someone else changed the policy on every attempt, so jitbot saved nothing rather than overwrite them."""


class PolicyChangeLost(AzureJitError):
    """Another writer's PUT replaced ours every time; the change may not be in Azure."""


@dataclass(frozen=True)
class Edited:
    """The policy as read back after the edit (None: deleted), and how many rounds it took."""

    policy: RawJson | None
    attempts: int


def comparable(policy: Mapping[str, Any] | None) -> str:
    """A policy's writable content (kind, VM list, other properties), ignoring Azure's own history."""
    if policy is None:
        return "null"
    properties = {k: v for k, v in (policy.get("properties") or {}).items() if k not in SERVER_KEPT}
    return json.dumps({"kind": policy.get("kind"), "properties": properties}, sort_keys=True)


def put_body(policy: Mapping[str, Any] | None, virtual_machines: list[RawJson]) -> bytes:
    """The PUT body: the new VM list, with the policy's kind and other properties exactly as Azure returned them."""
    kind = str(policy.get("kind") or "Basic") if policy is not None else "Basic"
    kept = {
        key: value
        for key, value in ((policy or {}).get("properties") or {}).items()
        if key not in SERVER_KEPT and key != "virtualMachines"
    }
    return json.dumps({"kind": kind, "properties": {**kept, "virtualMachines": virtual_machines}}).encode()


class PolicyEditor:
    """Read-modify-write of one JIT policy, safe against other writers as far as Azure allows."""

    def __init__(self, reader: ArmReader, writer: ArmWriter):
        self._reader = reader
        self._writer = writer

    async def edit(self, policy_id: str, base: RawJson | None, change: Change, done: Done) -> Edited:
        """Apply ``change`` to the policy at ``policy_id`` (``base``: as the caller last read it)."""
        lost = False
        for attempt in range(1, MAX_ATTEMPTS + 1):
            wanted = change(base)
            latest = await self._reader.jit_policy(policy_id)
            if comparable(latest) != comparable(base):
                log.info("azure.policy_changed_meanwhile", extra={"policy": policy_id, "attempt": attempt})
                base, lost = latest, False
                continue
            if wanted:
                await self._writer.put_policy(policy_id, put_body(latest, wanted))
            elif latest is not None:
                await self._writer.delete_policy(policy_id)
            after = await self._reader.jit_policy(policy_id)
            if done(after):
                return Edited(after, attempt)
            log.warning("azure.policy_change_lost", extra={"policy": policy_id, "attempt": attempt})
            base, lost = after, True
        raise PolicyChangeLost(_lost(policy_id)) if lost else PolicyKeptChanging(_kept_changing(policy_id))


def _name(policy_id: str) -> str:
    parts = policy_id.strip("/").split("/")
    lowered = [p.lower() for p in parts]
    group = parts[lowered.index("resourcegroups") + 1] if "resourcegroups" in lowered else "?"
    location = parts[lowered.index("locations") + 1] if "locations" in lowered else "?"
    return f"`{parts[-1]}` of resource group `{group}` ({location})"


def _kept_changing(policy_id: str) -> str:
    return (
        f"Someone else changed the JIT policy {_name(policy_id)} every time jitbot was about to save "
        f"({MAX_ATTEMPTS} times), so jitbot saved nothing rather than overwrite their change. Try again in a "
        "moment, or ask who is editing it (the portal, the CLI, a deployment)."
    )


def _lost(policy_id: str) -> str:
    return (
        f"jitbot saved the JIT policy {_name(policy_id)} {MAX_ATTEMPTS} times, and each time another writer's save "
        "replaced it right after. Your change may not be in Azure: check the VM's status, and ask who else is "
        "editing the policy."
    )
