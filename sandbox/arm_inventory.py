"""The Azure emulator's in-memory world: subscriptions, VMs, NICs, NSGs, JIT policies, Defender pricing, Defender's
assessments and alerts, management groups, role definitions and role assignments (whose principals live in the
Entra ``directory``).

Plain mutable dataclasses so tests and the sandbox can build a world, and the emulator can serve and
change it. Raw JSON (``dict``) is kept where Azure's own shape is the truth (policy VMs and requests,
NSG security rules), so the emulator answers exactly what it was given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sandbox.arm_findings import Assessment, SecurityAlert
from sandbox.entra import Directory


@dataclass
class Subscription:
    """A subscription; ``defender_for_servers`` is pricing ``VirtualMachines`` at tier Standard."""

    id: str
    display_name: str = ""
    defender_for_servers: bool = True


@dataclass
class NetworkSecurityGroup:
    """An NSG; ``rules`` are Azure-shaped ``securityRules`` entries (name, properties…)."""

    subscription_id: str
    resource_group: str
    name: str
    location: str
    rules: list[dict[str, Any]] = field(default_factory=list)

    @property
    def id(self) -> str:
        """ARM resource id."""
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.Network/networkSecurityGroups/{self.name}"
        )


@dataclass
class VirtualMachine:
    """A VM with one NIC. ``nic_nsg``/``subnet_nsg`` name NSGs in the same resource group, or None.

    ``jit_denied_by_policy`` is the display name of an Azure Policy assignment (on the VM's resource group)
    whose deny effect refuses any JIT policy write that adds or changes this VM, as Azure does with a 403
    ``RequestDisallowedByPolicy``; nothing Azure lets jitbot read predicts it. ``power_state`` is the code after
    ``PowerState/`` in the VM's instance view: ``running``, ``starting``, ``stopping``, ``stopped``,
    ``deallocating`` or ``deallocated``.
    """

    subscription_id: str
    resource_group: str
    name: str
    location: str
    os_type: str = "Linux"
    classic: bool = False
    nic_nsg: str | None = None
    subnet_nsg: str | None = None
    private_ip: str = "10.0.0.4"
    public_ip: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    vm_size: str = "Standard_B2s"
    jit_denied_by_policy: str | None = None
    power_state: str = "running"

    @property
    def id(self) -> str:
        """ARM resource id (Microsoft.ClassicCompute for classic VMs)."""
        provider = "Microsoft.ClassicCompute" if self.classic else "Microsoft.Compute"
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/{provider}/virtualMachines/{self.name}"
        )

    @property
    def nic_name(self) -> str:
        """Name of the VM's only NIC."""
        return f"{self.name}-nic"


@dataclass
class JitPolicy:
    """A JIT policy resource; ``virtual_machines`` and ``requests`` hold Azure-shaped JSON."""

    subscription_id: str
    resource_group: str
    location: str
    name: str = "default"
    kind: str = "Basic"
    virtual_machines: list[dict[str, Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)

    @property
    def id(self) -> str:
        """ARM resource id."""
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.Security/locations/{self.location}/jitNetworkAccessPolicies/{self.name}"
        )


@dataclass
class ManagementGroup:
    """A management group: ``parent`` is its parent group's id (None for the tenant root group), ``subscriptions``
    the ids of the subscriptions directly under it."""

    id: str
    display_name: str
    parent: str | None = None
    subscriptions: list[str] = field(default_factory=list)

    @property
    def resource_id(self) -> str:
        """ARM id, the scope of role assignments made on the group."""
        return f"/providers/Microsoft.Management/managementGroups/{self.id}"


@dataclass
class RoleDefinition:
    """A built-in or custom role: ``permissions`` blocks are Azure-shaped (actions, notActions, …)."""

    name: str
    role_name: str
    description: str
    permissions: list[dict[str, list[str]]]
    role_type: str = "BuiltInRole"
    assignable_scopes: list[str] = field(default_factory=lambda: ["/"])


@dataclass
class RoleAssignment:
    """A role assignment of ``role`` (a RoleDefinition name) to a user or group object id at ``scope``."""

    name: str
    scope: str
    role: str
    principal_id: str
    principal_type: str = "User"


@dataclass
class DenyAssignment:
    """A deny assignment at ``scope``: ``permissions`` blocks are Azure-shaped (actions, notActions, …), principals
    and exclusions are ``(object id, type)`` pairs; ``EVERYONE`` is Azure's "Everyone" principal."""

    name: str
    display_name: str
    scope: str
    permissions: list[dict[str, list[str]]]
    principals: list[tuple[str, str]]
    exclude_principals: list[tuple[str, str]] = field(default_factory=list)
    do_not_apply_to_child_scopes: bool = False
    description: str = ""


EVERYONE = ("00000000-0000-0000-0000-000000000000", "SystemDefined")
"""Azure's "Everyone" principal of a deny assignment ("Understand Azure deny assignments")."""


@dataclass
class Inventory:
    """Everything the emulator knows. Mutate it directly in tests; the emulator reads it on each call."""

    subscriptions: list[Subscription] = field(default_factory=list)
    vms: list[VirtualMachine] = field(default_factory=list)
    nsgs: list[NetworkSecurityGroup] = field(default_factory=list)
    policies: list[JitPolicy] = field(default_factory=list)
    management_groups: list[ManagementGroup] = field(default_factory=list)
    role_definitions: list[RoleDefinition] = field(default_factory=list)
    role_assignments: list[RoleAssignment] = field(default_factory=list)
    deny_assignments: list[DenyAssignment] = field(default_factory=list)
    directory: Directory = field(default_factory=Directory)
    assessments: list[Assessment] = field(default_factory=list)
    alerts: list[SecurityAlert] = field(default_factory=list)
    _index: _Index | None = field(default=None, init=False, repr=False, compare=False)

    def _indexed(self) -> _Index:
        """Lookups by subscription and resource group, rebuilt whenever a list was replaced or changed length
        (the world is only ever appended to), so 50,000 VMs cost one pass per change, not one per ARM call."""
        key = tuple((id(items), len(items)) for items in (self.vms, self.nsgs, self.policies))
        if self._index is None or self._index.key != key:
            self._index = _Index.build(key, self)
        return self._index

    def in_group(self, subscription_id: str, resource_group: str | None = None) -> list[VirtualMachine]:
        """The VMs (classic ones too) of a subscription, or of one of its resource groups, in inventory order."""
        index = self._indexed()
        if resource_group is None:
            return index.by_subscription.get(subscription_id.lower(), [])
        return index.by_group.get((subscription_id.lower(), resource_group.lower()), [])

    def resource_groups(self, subscription_id: str) -> set[str]:
        """The (lower-cased) resource groups of a subscription that hold a VM, an NSG or a JIT policy."""
        return self._indexed().groups.get(subscription_id.lower(), set())

    def vm(self, name: str) -> VirtualMachine:
        """The VM called ``name`` (first match, case-insensitive)."""
        return next(v for v in self.vms if v.name.lower() == name.lower())

    def nsg(self, subscription_id: str, resource_group: str, name: str) -> NetworkSecurityGroup | None:
        """The NSG with that name, or None."""
        return self._indexed().nsgs.get((subscription_id.lower(), resource_group.lower(), name.lower()))

    def policy_covering(self, vm: VirtualMachine) -> JitPolicy | None:
        """The policy whose ``virtualMachines[].id`` names ``vm``."""
        for policy in self.policies:
            if any(entry["id"].lower() == vm.id.lower() for entry in policy.virtual_machines):
                return policy
        return None


@dataclass
class _Index:
    key: tuple[tuple[int, int], ...]
    by_subscription: dict[str, list[VirtualMachine]]
    by_group: dict[tuple[str, str], list[VirtualMachine]]
    groups: dict[str, set[str]]
    nsgs: dict[tuple[str, str, str], NetworkSecurityGroup]

    @classmethod
    def build(cls, key: tuple[tuple[int, int], ...], inventory: Inventory) -> _Index:
        by_subscription: dict[str, list[VirtualMachine]] = {}
        by_group: dict[tuple[str, str], list[VirtualMachine]] = {}
        groups: dict[str, set[str]] = {}
        for vm in inventory.vms:
            sub, rg = vm.subscription_id.lower(), vm.resource_group.lower()
            by_subscription.setdefault(sub, []).append(vm)
            by_group.setdefault((sub, rg), []).append(vm)
            groups.setdefault(sub, set()).add(rg)
        nsgs: dict[tuple[str, str, str], NetworkSecurityGroup] = {}
        for nsg in inventory.nsgs:
            nsgs.setdefault((nsg.subscription_id.lower(), nsg.resource_group.lower(), nsg.name.lower()), nsg)
            groups.setdefault(nsg.subscription_id.lower(), set()).add(nsg.resource_group.lower())
        for policy in inventory.policies:
            groups.setdefault(policy.subscription_id.lower(), set()).add(policy.resource_group.lower())
        return cls(key, by_subscription, by_group, groups, nsgs)
