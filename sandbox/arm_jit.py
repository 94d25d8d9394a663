"""Defender for Cloud's just-in-time behaviour: policy writes, initiate, NSG rules and window expiry.

This is where the emulator is strict the way Azure is: PUT bodies and initiate requests are checked against
the 2020-01-01 swagger, unsupported VMs are refused, a write adding a VM that an Azure Policy assignment
denies gets ARM's 403 ``RequestDisallowedByPolicy``, and an initiate outside the policy gets the 400 whose
message says the request "is not a subset of policy". Enabling JIT adds deny rules for the policy's ports
to the VM's NSG; an initiate adds allow rules in front of them; the end of the window removes those again.
"""

from __future__ import annotations

import ipaddress
import re
import uuid
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from jit.durations import DurationError, parse_duration
from sandbox.arm_errors import ArmError, bad_request, disallowed_by_policy, not_found
from sandbox.arm_inventory import Inventory, JitPolicy, NetworkSecurityGroup, VirtualMachine
from sandbox.arm_resources import effective_nsg, jit_policy
from sandbox.arm_schema import JIT_SWAGGER, problems

MAX_NAME_CHARS = 56
MIN_ACCESS = timedelta(minutes=5)
MAX_ACCESS = timedelta(days=1)
CLOCK_SLACK = timedelta(minutes=1)
DEFAULT_HISTORY = 100
ALLOW_PRIORITY_FIRST = 100
DENY_PRIORITY_FIRST = 4096
RULE_PREFIX = "SecurityCenter-JITRule"

_VM_ID = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/"
    r"(?P<provider>Microsoft\.(?:Classic)?Compute)/virtualMachines/(?P<name>[^/]+)$",
    re.IGNORECASE,
)
_TAG = re.compile(r"^[A-Za-z][A-Za-z0-9.]*$")


def azure_time(value: datetime) -> str:
    """Azure's timestamp form, seven fractional digits and ``Z`` (``2018-05-17T08:06:45.5691611Z``)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def parse_time(text: str) -> datetime:
    """An ISO 8601 timestamp; naive ones are UTC."""
    parsed = datetime.fromisoformat(text.strip())
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Grant:
    """An allow rule an initiate added, remembered so the end of the window can take it away."""

    policy_id: str
    vm_id: str
    number: int
    start: str
    end: datetime
    nsg: NetworkSecurityGroup
    rule_name: str


@dataclass
class JitEngine:
    """Applies JIT policy writes and initiates to the inventory and its NSGs."""

    inventory: Inventory
    requestor: str
    max_history: int = DEFAULT_HISTORY
    grants: list[Grant] = field(default_factory=list)

    def find(self, subscription_id: str, resource_group: str, location: str, name: str) -> JitPolicy | None:
        """The policy at that address (names compare case-insensitively, as in ARM)."""
        key = (subscription_id.lower(), resource_group.lower(), location.lower(), name.lower())
        for policy in self.inventory.policies:
            if (
                policy.subscription_id.lower(),
                policy.resource_group.lower(),
                policy.location.lower(),
                policy.name.lower(),
            ) == key:
                return policy
        return None

    def get(self, subscription_id: str, resource_group: str, location: str, name: str) -> JitPolicy:
        """The policy, or ARM's 404."""
        policy = self.find(subscription_id, resource_group, location, name)
        if policy is None:
            raise not_found(f"Microsoft.Security/locations/{location}/jitNetworkAccessPolicies", name, resource_group)
        return policy

    def put(
        self, subscription_id: str, resource_group: str, location: str, name: str, body: Any
    ) -> tuple[JitPolicy, bool]:
        """Create or replace a policy (the whole VM list); return it and whether it is new."""
        schema_problems = problems(JIT_SWAGGER, "JitNetworkAccessPolicy", body)
        if schema_problems:
            raise bad_request("InvalidRequestContent", "The request content is invalid: " + "; ".join(schema_problems))
        properties = body["properties"]
        entries: list[dict[str, Any]] = properties["virtualMachines"]
        policy = self.find(subscription_id, resource_group, location, name)
        self._check_azure_policy(policy, name, entries)
        vms = self._check_policy_vms(subscription_id, location, name, entries)
        created = policy is None
        if policy is None:
            policy = JitPolicy(subscription_id, resource_group, location, name)
            self.inventory.policies.append(policy)
        old_ids = {entry["id"].lower() for entry in policy.virtual_machines}
        policy.kind = str(body.get("kind") or policy.kind)
        policy.virtual_machines = [_clean_vm_entry(entry) for entry in entries]
        if "requests" in properties:
            policy.requests = list(properties["requests"])[-self.max_history :]
        new_ids = {vm.id.lower() for vm in vms}
        for gone in old_ids - new_ids:
            vm = self._vm_by_id(gone)
            if vm is not None:
                self._sync_deny_rules(policy, vm, set())
        for vm, entry in zip(vms, policy.virtual_machines, strict=True):
            self._sync_deny_rules(policy, vm, {int(port["number"]) for port in entry["ports"]})
        return policy, created

    def delete(self, subscription_id: str, resource_group: str, location: str, name: str) -> bool:
        """Remove a policy and its deny rules; False when there was none."""
        policy = self.find(subscription_id, resource_group, location, name)
        if policy is None:
            return False
        for entry in policy.virtual_machines:
            vm = self._vm_by_id(entry["id"])
            if vm is not None:
                self._sync_deny_rules(policy, vm, set())
        self.inventory.policies.remove(policy)
        return True

    def initiate(
        self, policy: JitPolicy, body: Any, now: datetime, caller_ip: str, requestor: str | None = None
    ) -> dict[str, Any]:
        """Open the requested ports; the 202 body Azure answers. Refuses anything outside the policy.

        Azure records the caller's identity as ``requestor`` (``requestor`` None: jitbot's own identity). A port
        opened again supersedes the open one, whoever opened it: the older grant's rule goes and its history
        entry becomes ``Revoked``/``NewerRequestInitiated``, even when the new one ends sooner.
        """
        schema_problems = problems(JIT_SWAGGER, "JitNetworkAccessPolicyInitiateRequest", body)
        if schema_problems:
            raise bad_request("InvalidRequestContent", "The request content is invalid: " + "; ".join(schema_problems))
        if not body["virtualMachines"]:
            raise bad_request("InvalidRequestContent", "The request names no virtual machines.")
        plans = [self._plan_vm(policy, entry, now, caller_ip) for entry in body["virtualMachines"]]
        start = azure_time(now)
        history_vms: list[dict[str, Any]] = []
        answer_vms: list[dict[str, Any]] = []
        for vm, nsg, ports in plans:
            history_ports = []
            for number, prefix, end, protocol in ports:
                self._supersede(policy, vm, number)
                rule_name = self._add_allow_rule(policy, vm, nsg, number, prefix, protocol)
                self.grants.append(Grant(policy.id, vm.id, number, start, end, nsg, rule_name))
                history_ports.append(
                    {
                        "number": number,
                        "allowedSourceAddressPrefix": prefix,
                        "endTimeUtc": azure_time(end),
                        "status": "Initiated",
                        "statusReason": "UserRequested",
                    }
                )
            entry_id = _policy_entry(policy, vm)["id"]
            history_vms.append({"id": entry_id, "ports": history_ports})
            answer_vms.append({"id": entry_id, "ports": [dict(p, status="Initiating") for p in history_ports]})
        request: dict[str, Any] = {
            "virtualMachines": history_vms,
            "startTimeUtc": start,
            "requestor": requestor or self.requestor,
        }
        justification = body.get("justification")
        if justification is not None:
            request["justification"] = justification
        policy.requests.append(request)
        del policy.requests[: -self.max_history]
        answer = {k: v for k, v in request.items() if k != "virtualMachines"}
        return {"virtualMachines": answer_vms, **answer}

    def expire(self, now: datetime) -> int:
        """Close every window whose end has passed: remove its allow rule, mark the port Revoked/Expired."""
        closed = 0
        for grant in [g for g in self.grants if g.end <= now]:
            self.grants.remove(grant)
            _remove_rule(grant.nsg, grant.rule_name)
            closed += 1
        for policy in self.inventory.policies:
            for request in policy.requests:
                for vm_entry in request.get("virtualMachines", []):
                    for port in vm_entry.get("ports", []):
                        if port.get("status") == "Initiated" and _ended(port, now):
                            port["status"] = "Revoked"
                            port["statusReason"] = "Expired"
        return closed

    def view(self, policy: JitPolicy) -> dict[str, Any]:
        """The policy as ARM returns it."""
        return jit_policy(policy)

    def _check_azure_policy(self, policy: JitPolicy | None, name: str, entries: list[dict[str, Any]]) -> None:
        """ARM evaluates deny policies before the request reaches Defender for Cloud, so nothing is changed.

        Only entries that add a denied VM or change its ports are refused: resending a VM's entry unchanged
        (enabling JIT on a neighbour in the same policy) passes, as does removing it.
        """
        current = {str(e["id"]).lower(): e.get("ports") for e in (policy.virtual_machines if policy else [])}
        for entry in entries:
            vm = self._vm_by_id(str(entry["id"]))
            if vm is None or vm.jit_denied_by_policy is None:
                continue
            if current.get(vm.id.lower()) == entry["ports"]:
                continue
            raise disallowed_by_policy(
                name,
                vm.jit_denied_by_policy,
                f"/subscriptions/{vm.subscription_id}/resourceGroups/{vm.resource_group}",
                "Microsoft.Security/locations/jitNetworkAccessPolicies",
            )

    def _check_policy_vms(
        self, subscription_id: str, location: str, name: str, entries: list[dict[str, Any]]
    ) -> list[VirtualMachine]:
        vms: list[VirtualMachine] = []
        seen: set[str] = set()
        for index, entry in enumerate(entries):
            vm = self._supported_vm(subscription_id, location, entry["id"], f"virtualMachines[{index}]")
            if vm.id.lower() in seen:
                raise bad_request("InvalidRequestContent", f"Virtual machine '{vm.name}' appears twice in the policy.")
            seen.add(vm.id.lower())
            if len(name) + len(vm.name) > MAX_NAME_CHARS:
                raise bad_request(
                    "InvalidJitPolicyName",
                    f"The JIT policy name '{name}' and the virtual machine name '{vm.name}' are "
                    f"{len(name) + len(vm.name)} characters together; they can't exceed {MAX_NAME_CHARS}, "
                    "because the NSG rule description built from them is limited to 140 characters.",
                )
            _check_ports(vm, entry["ports"])
            vms.append(vm)
        return vms

    def _supported_vm(self, subscription_id: str, location: str, vm_id: str, where: str) -> VirtualMachine:
        match = _VM_ID.match(vm_id.strip())
        if match is None:
            raise bad_request("InvalidResourceId", f"{where}.id '{vm_id}' is not a virtual machine resource id.")
        if match["provider"].lower() == "microsoft.classiccompute":
            raise bad_request(
                "UnsupportedVirtualMachine",
                f"Virtual machine '{match['name']}' is a classic virtual machine; just-in-time network access "
                "supports only virtual machines deployed through Azure Resource Manager.",
            )
        vm = self._vm_by_id(vm_id)
        if vm is None:
            raise bad_request("VirtualMachineNotFound", f"Virtual machine '{vm_id}' was not found.")
        if vm.subscription_id.lower() != subscription_id.lower():
            raise bad_request(
                "InvalidResourceId", f"Virtual machine '{vm.name}' is not in subscription '{subscription_id}'."
            )
        if vm.location.lower() != location.lower():
            raise bad_request(
                "LocationMismatch",
                f"Virtual machine '{vm.name}' is in location '{vm.location}', not in the policy's location "
                f"'{location}'.",
            )
        subscription = next(
            (s for s in self.inventory.subscriptions if s.id.lower() == vm.subscription_id.lower()), None
        )
        if subscription is None or not subscription.defender_for_servers:
            raise bad_request(
                "SubscriptionNotInStandardTier",
                f"Just-in-time network access requires Microsoft Defender for Servers on subscription "
                f"'{vm.subscription_id}' (pricing 'VirtualMachines' in tier 'Standard').",
            )
        if effective_nsg(self.inventory, vm) is None:
            raise bad_request(
                "UnsupportedVirtualMachine",
                f"Virtual machine '{vm.name}' has no network security group on its network interface or subnet; "
                "just-in-time network access needs one.",
            )
        return vm

    def _vm_by_id(self, vm_id: str) -> VirtualMachine | None:
        return next((vm for vm in self.inventory.vms if vm.id.lower() == vm_id.strip().lower()), None)

    def _plan_vm(
        self, policy: JitPolicy, entry: dict[str, Any], now: datetime, caller_ip: str
    ) -> tuple[VirtualMachine, NetworkSecurityGroup, list[tuple[int, str, datetime, str]]]:
        policy_vm = next((v for v in policy.virtual_machines if v["id"].lower() == entry["id"].strip().lower()), None)
        vm = self._vm_by_id(entry["id"])
        if policy_vm is None or vm is None:
            raise _not_subset(policy, entry["id"], f"the virtual machine is not in policy '{policy.name}'")
        nsg = effective_nsg(self.inventory, vm)
        if nsg is None:
            raise bad_request(
                "UnsupportedVirtualMachine", f"Virtual machine '{vm.name}' no longer has a network security group."
            )
        if not entry["ports"]:
            raise bad_request("InvalidRequestContent", f"The request for '{vm.name}' names no ports.")
        planned: list[tuple[int, str, datetime, str]] = []
        for port in entry["ports"]:
            number = int(port["number"])
            rule = next((p for p in policy_vm["ports"] if int(p["number"]) == number), None)
            if rule is None:
                raise _not_subset(policy, vm.name, f"port {number} is not in the policy")
            try:
                end = parse_time(str(port["endTimeUtc"]))
            except ValueError as exc:
                raise bad_request(
                    "InvalidRequestContent", f"endTimeUtc '{port['endTimeUtc']}' is not a date-time."
                ) from exc
            maximum = parse_duration(str(rule["maxRequestAccessDuration"]))
            if end <= now:
                raise _not_subset(policy, vm.name, f"port {number}: the end time {azure_time(end)} is in the past")
            if end - now > maximum + CLOCK_SLACK:
                raise _not_subset(
                    policy,
                    vm.name,
                    f"port {number}: the requested duration is longer than the maximum "
                    f"{rule['maxRequestAccessDuration']}",
                )
            prefix = str(port.get("allowedSourceAddressPrefix") or caller_ip)
            if not _source_allowed(prefix, _allowed_prefixes(rule)):
                raise _not_subset(
                    policy,
                    vm.name,
                    f"port {number}: source '{prefix}' is not within the allowed "
                    f"{', '.join(_allowed_prefixes(rule)) or 'sources'}",
                )
            planned.append((number, prefix, end, str(rule.get("protocol", "*"))))
        return vm, nsg, planned

    def _supersede(self, policy: JitPolicy, vm: VirtualMachine, number: int) -> None:
        for grant in [g for g in self.grants if g.vm_id.lower() == vm.id.lower() and g.number == number]:
            self.grants.remove(grant)
            _remove_rule(grant.nsg, grant.rule_name)
        for request in policy.requests:
            for vm_entry in request.get("virtualMachines", []):
                if vm_entry.get("id", "").lower() != vm.id.lower():
                    continue
                for port in vm_entry.get("ports", []):
                    if port.get("status") == "Initiated" and int(port.get("number", -1)) == number:
                        port["status"] = "Revoked"
                        port["statusReason"] = "NewerRequestInitiated"

    def _add_allow_rule(
        self, policy: JitPolicy, vm: VirtualMachine, nsg: NetworkSecurityGroup, number: int, prefix: str, protocol: str
    ) -> str:
        name = f"{RULE_PREFIX}-{_rule_hash(policy, vm)}-{uuid.uuid4().hex.upper()}"
        nsg.rules.append(
            {
                "name": name,
                "properties": {
                    "description": f"ASC JIT Network Access rule created by an initiation request for policy "
                    f"'{policy.name}' of VM '{vm.name}'.",
                    "protocol": protocol,
                    "sourcePortRange": "*",
                    "destinationPortRange": str(number),
                    "sourceAddressPrefix": prefix,
                    "destinationAddressPrefix": vm.private_ip,
                    "access": "Allow",
                    "priority": _free_priority(nsg, ALLOW_PRIORITY_FIRST, +1),
                    "direction": "Inbound",
                },
            }
        )
        return name

    def _sync_deny_rules(self, policy: JitPolicy, vm: VirtualMachine, ports: set[int]) -> None:
        nsg = effective_nsg(self.inventory, vm)
        if nsg is None:
            return
        prefix = f"{RULE_PREFIX}_{_rule_hash(policy, vm)}_"
        existing = {rule["name"]: rule for rule in nsg.rules if str(rule.get("name", "")).startswith(prefix)}
        wanted = {f"{prefix}{_port_guid(vm, number)}": number for number in sorted(ports)}
        nsg.rules[:] = [rule for rule in nsg.rules if rule.get("name") not in set(existing) - set(wanted)]
        entry = _policy_entry(policy, vm) if ports else {"ports": []}
        protocols = {int(p["number"]): str(p.get("protocol", "*")) for p in entry["ports"]}
        for name, number in wanted.items():
            if name in existing:
                existing[name]["properties"]["protocol"] = protocols.get(number, "*")
                continue
            nsg.rules.append(
                {
                    "name": name,
                    "properties": {
                        "description": f"ASC JIT Network Access rule for policy '{policy.name}' of VM '{vm.name}'.",
                        "protocol": protocols.get(number, "*"),
                        "sourcePortRange": "*",
                        "destinationPortRange": str(number),
                        "sourceAddressPrefix": "*",
                        "destinationAddressPrefix": vm.private_ip,
                        "access": "Deny",
                        "priority": _free_priority(nsg, DENY_PRIORITY_FIRST, -1),
                        "direction": "Inbound",
                    },
                }
            )


def _clean_vm_entry(entry: dict[str, Any]) -> dict[str, Any]:
    return {**entry, "ports": [dict(port) for port in entry["ports"]]}


def _policy_entry(policy: JitPolicy, vm: VirtualMachine) -> dict[str, Any]:
    return next(v for v in policy.virtual_machines if v["id"].lower() == vm.id.lower())


def _check_ports(vm: VirtualMachine, ports: list[dict[str, Any]]) -> None:
    numbers: set[int] = set()
    for port in ports:
        number = int(port["number"])
        if number in numbers:
            raise bad_request("InvalidRequestContent", f"Port {number} appears twice for virtual machine '{vm.name}'.")
        numbers.add(number)
        duration = str(port["maxRequestAccessDuration"])
        try:
            if not duration.upper().startswith("P"):
                raise DurationError(duration)
            value = parse_duration(duration)
        except DurationError as exc:
            raise bad_request(
                "InvalidRequestContent",
                f"maxRequestAccessDuration '{duration}' of port {number} is not an ISO 8601 duration.",
            ) from exc
        if not MIN_ACCESS <= value <= MAX_ACCESS:
            raise bad_request(
                "InvalidRequestContent",
                f"maxRequestAccessDuration '{duration}' of port {number} must be between 5 minutes and 1 day.",
            )
        single = port.get("allowedSourceAddressPrefix")
        many = port.get("allowedSourceAddressPrefixes")
        if (single is None) == (many is None) or (many is not None and not many):
            raise bad_request(
                "InvalidRequestContent",
                f"Port {number} must have exactly one of allowedSourceAddressPrefix and "
                "allowedSourceAddressPrefixes (which must not be empty).",
            )
        for prefix in [single] if single is not None else list(many or []):
            if not _valid_prefix(str(prefix)):
                raise bad_request(
                    "InvalidRequestContent",
                    f"'{prefix}' of port {number} is not an IP address, CIDR range, service tag or '*'.",
                )


def _valid_prefix(prefix: str) -> bool:
    if prefix == "*" or _TAG.match(prefix):
        return True
    try:
        ipaddress.ip_network(prefix, strict=False)
    except ValueError:
        return False
    return True


def _allowed_prefixes(rule: dict[str, Any]) -> list[str]:
    if rule.get("allowedSourceAddressPrefixes"):
        return [str(p) for p in rule["allowedSourceAddressPrefixes"]]
    single = rule.get("allowedSourceAddressPrefix")
    return [str(single)] if single else []


def _source_allowed(requested: str, allowed: list[str]) -> bool:
    if "*" in allowed:
        return True
    if requested == "*":
        return False
    try:
        network = ipaddress.ip_network(requested, strict=False)
    except ValueError:
        return any(requested.lower() == a.lower() for a in allowed)
    for prefix in allowed:
        try:
            candidate = ipaddress.ip_network(prefix, strict=False)
        except ValueError:
            continue
        if candidate.version == network.version and network.subnet_of(candidate):  # type: ignore[arg-type]
            return True
    return False


def _not_subset(policy: JitPolicy, vm: str, reason: str) -> ArmError:
    return bad_request(
        "BadRequest",
        f"The request for virtual machine '{vm}' is not a subset of policy '{policy.name}': {reason}.",
    )


def _ended(port: dict[str, Any], now: datetime) -> bool:
    try:
        return parse_time(str(port.get("endTimeUtc", ""))) <= now
    except ValueError:
        return False


def _remove_rule(nsg: NetworkSecurityGroup, name: str) -> None:
    nsg.rules[:] = [rule for rule in nsg.rules if rule.get("name") != name]


def _rule_hash(policy: JitPolicy, vm: VirtualMachine) -> int:
    value = zlib.crc32(f"{policy.id}|{vm.id}".lower().encode())
    return value - (1 << 32) if value >= 1 << 31 else value


def _port_guid(vm: VirtualMachine, number: int) -> str:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"{vm.id.lower()}|{number}").hex.upper()


def _free_priority(nsg: NetworkSecurityGroup, start: int, step: int) -> int:
    used = {
        int(rule.get("properties", {}).get("priority", -1))
        for rule in nsg.rules
        if rule.get("properties", {}).get("direction", "Inbound") == "Inbound"
    }
    priority = start
    while priority in used and 100 <= priority <= 4096:
        priority += step
    if not 100 <= priority <= 4096:
        raise ArmError(
            409, "SecurityRulePriorityExhausted", f"Network security group '{nsg.name}' has no free rule priority."
        )
    return priority
