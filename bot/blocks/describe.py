"""Plain-language descriptions of domain facts shared by several messages: port rules and why JIT cannot work."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.blocks.common import code, duration_text, escape_mrkdwn, ports_label, slack_date, source_label
from jit.model import PolicyDenial, PolicyPort, PortProtocol, UnsupportedReason


@dataclass(frozen=True)
class Remedy:
    """Why JIT cannot work on a VM, who outside jitbot can change that, and how."""

    what: str
    who: str
    fix: str


UNSUPPORTED_EXPLANATIONS: dict[UnsupportedReason, Remedy] = {
    UnsupportedReason.NO_NSG: Remedy(
        "No network security group protects it.",
        "whoever manages its network (Network Contributor on its network interface or subnet)",
        "Attach a network security group to the VM's network interface or subnet; JIT works by adding rules to it.",
    ),
    UnsupportedReason.CLASSIC_VM: Remedy(
        "It is a classic (Azure Service Manager) VM.",
        "the VM's owner",
        "Migrate it to Azure Resource Manager; JIT supports only ARM VMs.",
    ),
    UnsupportedReason.DEFENDER_OFF: Remedy(
        "Microsoft Defender for Servers is not enabled on its subscription.",
        "a Security Admin or Owner of the subscription",
        "Turn on the Defender for Servers plan in Defender for Cloud → Environment settings for the subscription.",
    ),
    UnsupportedReason.FIREWALL_MANAGED: Remedy(
        "Its Azure Firewall is governed by a Firewall Manager policy, which JIT cannot change.",
        "whoever manages its network",
        "Protect it with a network security group or classic Azure Firewall rules instead.",
    ),
    UnsupportedReason.DISABLED_BY_POLICY: Remedy(
        "JIT is disabled by Azure Policy: a policy assignment refused it when an admin tried to enable it.",
        "the owner of that Azure Policy assignment",
        "Grant an exemption covering the VM or its resource group; then an admin can run `/jit enable` on it again.",
    ),
}
"""Every reason JIT cannot work, with its own next step: nothing a jitbot admin does helps before it is fixed."""


def unsupported_text(reasons: Sequence[UnsupportedReason], denial: PolicyDenial | None = None) -> str:
    """Why JIT cannot work on a VM and how to fix each cause, as mrkdwn bullet lines; ``denial`` names the Azure
    Policy assignment behind ``DISABLED_BY_POLICY`` when it is known."""
    if not reasons:
        return "• Azure did not say why."
    lines = []
    for reason in dict.fromkeys(reasons):
        remedy = UNSUPPORTED_EXPLANATIONS[reason]
        what = remedy.what
        if reason is UnsupportedReason.DISABLED_BY_POLICY and denial is not None:
            what = (
                f"JIT is disabled by Azure Policy: {_assignment(denial)} refused it ({slack_date(denial.at)}) "
                "when an admin tried to enable it."
            )
        lines.append(f"• {what} _Who:_ {remedy.who}. _Fix:_ {remedy.fix}")
    return "\n".join(lines)


def policy_denial_notice(denial: PolicyDenial) -> str:
    """The warning on the policy modal of a VM Azure Policy refused before: saving tries again, since only Azure
    knows whether an exemption has been granted since."""
    return (
        f":warning: Last time ({slack_date(denial.at)}) {_assignment(denial)} refused JIT on this VM. If its owner "
        "has granted an exemption since, Save will work; otherwise Azure will refuse again."
    )


def _assignment(denial: PolicyDenial) -> str:
    if not denial.assignment:
        return "an Azure Policy assignment"
    return f"the Azure Policy assignment {code(denial.assignment, 150)}"


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
