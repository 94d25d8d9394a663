"""Azure as the emulator sees it, flattened for the sandbox page's side panel.

Why: the point of the sandbox is to watch a click in Slack become an NSG rule in Azure and that rule go
away when the window ends. This reads the emulator's inventory (never the bot's view of it) and keeps a
short log of JIT allow rules opening and closing, because a rule that vanished is otherwise invisible.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from jit.justification import parse_justification
from sandbox.arm import ArmEmulator
from sandbox.arm_inventory import Inventory, JitPolicy, VirtualMachine
from sandbox.arm_jit import RULE_PREFIX, Grant
from sandbox.arm_resources import effective_nsg

MAX_REQUESTS = 12
MAX_ACTIVITY = 30


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _name_of(resource_id: str) -> str:
    return resource_id.rstrip("/").rsplit("/", 1)[-1]


def vm_status(inventory: Inventory, vm: VirtualMachine) -> tuple[str, str | None]:
    """The portal's tab for a VM (``configured``, ``not_configured``, ``unsupported``) and why, if unsupported."""
    subscription = next((s for s in inventory.subscriptions if s.id == vm.subscription_id), None)
    if vm.classic:
        return "unsupported", "classic deployment"
    if subscription is not None and not subscription.defender_for_servers:
        return "unsupported", "Defender for Servers is off"
    if effective_nsg(inventory, vm) is None:
        return "unsupported", "no network security group"
    if inventory.policy_covering(vm) is not None:
        return "configured", None
    return "not_configured", None


def _policy(inventory: Inventory, policy: JitPolicy) -> dict[str, Any]:
    subscription = next((s for s in inventory.subscriptions if s.id == policy.subscription_id), None)
    return {
        "id": policy.id,
        "subscription": subscription.display_name if subscription else policy.subscription_id,
        "resource_group": policy.resource_group,
        "location": policy.location,
        "name": policy.name,
        "vms": [
            {
                "name": _name_of(str(entry.get("id", ""))),
                "ports": [
                    {
                        "number": int(port.get("number", 0)),
                        "protocol": str(port.get("protocol", "*")),
                        "max": str(port.get("maxRequestAccessDuration", "")),
                        "sources": list(port.get("allowedSourceAddressPrefixes") or [])
                        or [str(port.get("allowedSourceAddressPrefix", "*"))],
                    }
                    for port in entry.get("ports", [])
                ],
            }
            for entry in policy.virtual_machines
        ],
    }


def _vm(inventory: Inventory, vm: VirtualMachine) -> dict[str, Any]:
    status, reason = vm_status(inventory, vm)
    nsg = effective_nsg(inventory, vm)
    return {
        "name": vm.name,
        "resource_group": vm.resource_group,
        "subscription_id": vm.subscription_id,
        "location": vm.location,
        "os": vm.os_type,
        "status": status,
        "reason": reason,
        "nsg": nsg.name if nsg else None,
        "private_ip": vm.private_ip,
        "public_ip": vm.public_ip,
    }


def _open_rules(grants: list[Grant]) -> list[dict[str, Any]]:
    rows = []
    for grant in grants:
        rule = next((r for r in grant.nsg.rules if r.get("name") == grant.rule_name), None)
        if rule is None:
            continue
        properties = rule.get("properties", {})
        rows.append(
            {
                "rule": grant.rule_name,
                "nsg": grant.nsg.name,
                "vm": _name_of(grant.vm_id),
                "port": grant.number,
                "source": str(properties.get("sourceAddressPrefix", "")),
                "destination": str(properties.get("destinationAddressPrefix", "")),
                "priority": int(properties.get("priority", 0)),
                "ends": _iso(grant.end),
            }
        )
    return sorted(rows, key=lambda r: (r["vm"], r["port"]))


def _nsgs(inventory: Inventory) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for nsg in inventory.nsgs:
        rules: list[dict[str, Any]] = []
        for rule in nsg.rules:
            properties = rule.get("properties", {})
            rules.append(
                {
                    "name": str(rule.get("name", "")),
                    "priority": int(properties.get("priority", 0)),
                    "access": str(properties.get("access", "")),
                    "port": str(properties.get("destinationPortRange", "")),
                    "source": str(properties.get("sourceAddressPrefix", "")),
                    "destination": str(properties.get("destinationAddressPrefix", "")),
                    "jit": str(rule.get("name", "")).startswith(RULE_PREFIX),
                }
            )
        out.append({"name": nsg.name, "resource_group": nsg.resource_group, "rules": sorted(rules, key=_priority)})
    return out


def _priority(rule: dict[str, Any]) -> int:
    return int(rule["priority"])


def _requests(inventory: Inventory) -> list[dict[str, Any]]:
    rows = []
    for policy in inventory.policies:
        for request in policy.requests:
            justification = request.get("justification")
            parsed = parse_justification(justification)
            for entry in request.get("virtualMachines", []):
                rows.append(
                    {
                        "start": str(request.get("startTimeUtc", "")),
                        "vm": _name_of(str(entry.get("id", ""))),
                        "requestor": str(request.get("requestor", "")),
                        "requested_by": parsed.requester if parsed else None,
                        "approved_by": parsed.approver if parsed else None,
                        "justification": str(justification or ""),
                        "ports": [
                            {
                                "number": int(port.get("number", 0)),
                                "status": str(port.get("status", "")),
                                "reason": str(port.get("statusReason", "")),
                                "end": str(port.get("endTimeUtc", "")),
                                "source": str(port.get("allowedSourceAddressPrefix", "")),
                            }
                            for port in entry.get("ports", [])
                        ],
                    }
                )
    rows.sort(key=lambda r: str(r["start"]), reverse=True)
    return rows[:MAX_REQUESTS]


def azure_snapshot(arm: ArmEmulator) -> dict[str, Any]:
    """Everything the panel shows, as JSON-ready dicts; no clock-dependent fields, so equal worlds compare equal."""
    inventory = arm.inventory
    return {
        "subscriptions": [
            {"id": s.id, "name": s.display_name, "defender": s.defender_for_servers} for s in inventory.subscriptions
        ],
        "policies": [_policy(inventory, p) for p in inventory.policies],
        "vms": [_vm(inventory, vm) for vm in inventory.vms],
        "open_rules": _open_rules(list(arm.jit.grants)),
        "nsgs": _nsgs(inventory),
        "requests": _requests(inventory),
    }


@dataclass(frozen=True)
class RuleChange:
    """One JIT allow rule appearing or disappearing, at sandbox time ``at``."""

    at: datetime
    kind: str
    vm: str
    port: int
    source: str

    def to_json(self) -> dict[str, Any]:
        """As the page reads it."""
        return {"at": _iso(self.at), "kind": self.kind, "vm": self.vm, "port": self.port, "source": self.source}


class RuleActivity:
    """Remembers which JIT allow rules were open last time and logs the differences."""

    def __init__(self, limit: int = MAX_ACTIVITY) -> None:
        self._open: dict[str, dict[str, Any]] = {}
        self.changes: deque[RuleChange] = deque(maxlen=limit)

    def observe(self, open_rules: list[dict[str, Any]], now: datetime) -> bool:
        """Compare with the previous look; returns whether anything opened or closed."""
        current = {str(r["rule"]): r for r in open_rules}
        opened = [current[k] for k in current.keys() - self._open.keys()]
        closed = [self._open[k] for k in self._open.keys() - current.keys()]
        for kind, rows in (("closed", closed), ("opened", opened)):
            for row in sorted(rows, key=lambda r: (r["vm"], r["port"])):
                self.changes.appendleft(RuleChange(now, kind, str(row["vm"]), int(row["port"]), str(row["source"])))
        self._open = current
        return bool(opened or closed)

    def to_json(self) -> list[dict[str, Any]]:
        """Newest first."""
        return [c.to_json() for c in self.changes]
