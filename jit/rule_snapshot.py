"""The rule in force when someone asked, frozen into the request.

That rule governs the request (who approves, the quorum, reminders, escalation, review) even if the rules file
changes or the VM's tags move before it is decided, and the scheduler's follow-ups need no Azure call to find
it again. Read back through ``jit.request_extras.extras_of``.
"""

from __future__ import annotations

from jit.model import VirtualMachine
from jit.request_extras import Extra, seconds
from jit.routing import ConflictChoice, Route


def route_snapshot(route: Route, *, automatic: bool) -> dict[str, str]:
    """The parts of ``route`` a request needs later: quorum, reminders, escalation, review time, conflicts.

    ``automatic`` requests (auto-approved or break-glass) never wait, so they keep no reminder or escalation.
    """
    extra: dict[str, str] = {
        Extra.ROUTE: route.name,
        Extra.APPROVERS: ",".join(route.approvers),
        Extra.REVIEW_WITHIN: seconds(route.review_within),
    }
    if route.on_conflict is not ConflictChoice.SUPERSEDE:
        extra[Extra.ON_CONFLICT] = route.on_conflict.value
    if route.quorum > 1:
        extra[Extra.QUORUM] = str(route.quorum)
    if route.escalation is not None:
        extra[Extra.ESCALATE_TO] = ",".join(route.escalation.approvers)
        if route.escalation.channel:
            extra[Extra.ESCALATE_CHANNEL] = route.escalation.channel
        if not automatic:
            extra[Extra.ESCALATE_AFTER] = seconds(route.escalation.after)
    if route.approver_reminders and not automatic:
        extra[Extra.REMINDERS] = ",".join(seconds(wait) for wait in route.approver_reminders)
    return {str(k): v for k, v in extra.items()}


def vm_snapshot(vm: VirtualMachine) -> dict[str, str]:
    """The VM's addresses and OS as they were when asked (shown on the card and in the access DM)."""
    extra: dict[str, str] = {}
    if vm.private_ips:
        extra[Extra.PRIVATE_IPS.value] = ",".join(vm.private_ips)
    if vm.public_ips:
        extra[Extra.PUBLIC_IPS.value] = ",".join(vm.public_ips)
    if vm.os_type:
        extra[Extra.OS_TYPE.value] = vm.os_type
    return extra
