"""Plain-language descriptions of domain facts shared by several messages: port rules and why JIT cannot work."""

from __future__ import annotations

from collections.abc import Sequence

from bot.blocks.common import duration_text, escape_mrkdwn, ports_label, source_label
from jit.model import PolicyPort, PortProtocol, UnsupportedReason

UNSUPPORTED_EXPLANATIONS: dict[UnsupportedReason, tuple[str, str]] = {
    UnsupportedReason.NO_NSG: (
        "No network security group protects it.",
        "Attach a network security group to the VM's network interface or subnet; JIT works by adding rules to it.",
    ),
    UnsupportedReason.CLASSIC_VM: (
        "It is a classic (Azure Service Manager) VM.",
        "Migrate it to Azure Resource Manager; JIT supports only ARM VMs.",
    ),
    UnsupportedReason.DEFENDER_OFF: (
        "Microsoft Defender for Servers is not enabled on its subscription.",
        "Turn on the Defender for Servers plan in Defender for Cloud → Environment settings for the subscription.",
    ),
    UnsupportedReason.FIREWALL_MANAGED: (
        "Its Azure Firewall is governed by a Firewall Manager policy, which JIT cannot change.",
        "Protect it with a network security group or classic Azure Firewall rules instead.",
    ),
}


def unsupported_text(reasons: Sequence[UnsupportedReason]) -> str:
    """Why JIT cannot work on a VM and how to fix each cause, as mrkdwn bullet lines."""
    if not reasons:
        return "• Azure did not say why."
    lines = []
    for reason in dict.fromkeys(reasons):
        what, fix = UNSUPPORTED_EXPLANATIONS[reason]
        lines.append(f"• {what} _Fix:_ {fix}")
    return "\n".join(lines)


def protocol_text(protocol: PortProtocol) -> str:
    """``TCP``, ``UDP`` or ``any protocol``."""
    return "any protocol" if protocol is PortProtocol.ANY else protocol.value


def policy_port_line(port: PolicyPort) -> str:
    """One port rule as people read it: ``22 (SSH) · TCP · from any address · up to 3h``."""
    sources = ", ".join(source_label(s) for s in port.allowed_sources[:10])
    if len(port.allowed_sources) > 10:
        sources += f" and {len(port.allowed_sources) - 10} more"
    return (
        f"{escape_mrkdwn(ports_label([port.number]))} · {protocol_text(port.protocol)} · from {sources} · "
        f"up to {duration_text(port.max_duration)}"
    )
