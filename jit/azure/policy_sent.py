"""The JIT policy jitbot writes for a VM: which ports are acceptable, where a new policy goes, what it holds."""

from __future__ import annotations

from collections.abc import Sequence

from jit.azure.policies import DEFAULT_POLICY_NAME
from jit.model import MAX_ACCESS, MIN_ACCESS, JitPolicy, PolicyPort, VmRef
from jit.ports.azure_errors import InvalidPolicyPorts
from jit.resource_ids import id_segments


def check_ports(ports: Sequence[PolicyPort]) -> None:
    """Refuse (InvalidPolicyPorts) a port list Azure would refuse or that cannot work: none, repeats, numbers
    outside 1-65535, maximums outside 5 minutes to 24 hours, or a port without an allowed source."""
    if not ports:
        raise InvalidPolicyPorts("Give at least one port, for example 22 (SSH) or 3389 (RDP).")
    numbers = [p.number for p in ports]
    if len(set(numbers)) != len(numbers):
        raise InvalidPolicyPorts("Each port may appear only once in a JIT policy.")
    for port in ports:
        if not 1 <= port.number <= 65535:
            raise InvalidPolicyPorts(f"Port {port.number} is not a TCP/UDP port number (1-65535).")
        if not MIN_ACCESS <= port.max_duration <= MAX_ACCESS:
            raise InvalidPolicyPorts(
                f"The maximum request time for port {port.number} must be between 5 minutes and 24 hours."
            )
        if not port.allowed_sources or any(not s.strip() for s in port.allowed_sources):
            raise InvalidPolicyPorts(f"Port {port.number} needs at least one allowed source (`*` for any).")


def default_policy_id(vm: VmRef) -> str:
    """The id of the policy the portal creates for a VM's resource group and region (named ``default``)."""
    return (
        f"/subscriptions/{vm.subscription_id}/resourceGroups/{vm.resource_group}/providers/Microsoft.Security"
        f"/locations/{vm.location}/jitNetworkAccessPolicies/{DEFAULT_POLICY_NAME}"
    )


def policy_from_sent(policy_id: str, vm: VmRef, ports: Sequence[PolicyPort]) -> JitPolicy:
    """The VM's policy as jitbot sent it (what a successful write leaves in Azure)."""
    segments = id_segments(policy_id)
    return JitPolicy(
        id=policy_id,
        subscription_id=segments["subscriptions"],
        resource_group=segments["resourcegroups"],
        location=segments["locations"],
        name=segments["jitnetworkaccesspolicies"],
        vm_id=vm.id,
        ports=tuple(ports),
    )
