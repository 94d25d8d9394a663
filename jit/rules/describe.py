"""What a route means for a requester, in words: ``/jit help <vm>``."""

from __future__ import annotations

from jit.durations import humanize
from jit.model import RbacMode, VirtualMachine
from jit.principals import ALL_OF, NOBODY, conjuncts
from jit.routing import (
    AutoApproval,
    ConflictChoice,
    Route,
    Router,
)
from jit.rules.model import Match, Rule, RulesRouter


def explain_route(router: Router, vm: VirtualMachine) -> str:
    """``/jit help <vm>``: which rules apply to ``vm``, how they combine, and what that means, as plain text."""
    name = f"`{vm.ref.name}`"
    if not isinstance(router, RulesRouter):
        return f"{name} follows " + describe_route(router.route(vm))
    found = router.applicable(vm)
    route = router.route(vm)
    if not found.tagged and len(found.scope) <= 1:
        rule = found.scope[0] if found.scope else None
        return f"{name} follows " + describe_route(route, rule.match if rule else None)
    parts = [_rule_phrase(rule) for rule in found.scope] or ["the default route"]
    parts += [_rule_phrase(rule) + ", through its tags" for rule in found.tagged]
    lines = [
        f"{name} follows {len(parts)} rules combined: " + "; ".join(parts) + ".",
        "Every requirement applies at its strictest (tags can only add requirements, never remove them):",
    ]
    return "\n".join(lines + _route_lines(route))


def _rule_phrase(rule: Rule) -> str:
    return f"rule `{rule.route.name}` (matches {rule.match.describe()})"


def describe_route(route: Route, match: Match | None = None) -> str:
    """Plain text saying what a route means for a requester: who approves, limits, automation, break-glass."""
    lines = [f"rule `{route.name}`" + (f" (matches {match.describe()})" if match else " (the default)") + "."]
    return "\n".join(lines + _route_lines(route))


def describe_principals(principals: tuple[str, ...], joiner: str = ", ") -> str:
    """Principals as people read them: ``S0A, (S0B and S0C)``; ``nobody`` when no one qualifies."""
    return joiner.join(_spelled(principal) for principal in principals) or "nobody"


def _spelled(principal: str) -> str:
    if principal == NOBODY:
        return "nobody"
    if ALL_OF in principal:
        return "(" + " and ".join(conjuncts(principal)) + ")"
    return principal


def _route_lines(route: Route) -> list[str]:
    lines = ["Who may ask: " + (describe_principals(route.requesters) if route.requesters else "everyone") + "."]
    approvals = f"{route.quorum} distinct approvals" if route.quorum > 1 else "one approval"
    lines.append(f"Needs {approvals} from {describe_principals(route.approvers)} in {route.approval_channel}.")
    if route.max_duration:
        lines.append(f"Longest window: {humanize(route.max_duration)}.")
    if route.ticket_pattern:
        lines.append(f"The reason must mention a ticket matching {route.ticket_pattern}.")
    elif route.reason_required:
        lines.append("A reason is required.")
    if route.refuse_wide_sources:
        lines.append("Wide source ranges are refused.")
    if route.auto_approve:
        lines.append("Granted automatically when " + _describe_auto(route.auto_approve) + ".")
    if route.escalation:
        esc = route.escalation
        to = describe_principals(esc.approvers) if esc.approvers else "the same approvers"
        where = f" in {esc.channel}" if esc.channel else ""
        lines.append(f"Escalates to {to}{where} after {humanize(esc.after)} without a decision.")
    if route.break_glass:
        glass = describe_principals(route.break_glass)
        lines.append(f"Break-glass: {glass}, reviewed within {humanize(route.review_within)}.")
    if route.requester_rbac is not None:
        lines.append(_RBAC_LINES[route.requester_rbac])
    if route.on_conflict is not ConflictChoice.SUPERSEDE:
        waits = "waits until it ends" if route.on_conflict is ConflictChoice.QUEUE else "is refused"
        lines.append(f"A grant that would close someone else's access to the same port from another source {waits}.")
    return lines


_RBAC_LINES = {
    RbacMode.OFF: "Azure RBAC: the requester's own Azure role is not checked.",
    RbacMode.WARN: "Azure RBAC: approvers see whether the requester's own Azure role may request JIT on this VM.",
    RbacMode.ENFORCE: "Azure RBAC: refused unless the requester's own Azure role may request JIT on this VM.",
}


def _describe_auto(auto: AutoApproval) -> str:
    parts: list[str] = []
    if auto.requesters:
        parts.append("the requester is in " + describe_principals(auto.requesters, " or "))
    if auto.max_duration:
        parts.append(f"the window is at most {humanize(auto.max_duration)}")
    if auto.ports:
        ports = ", ".join(map(str, auto.ports))
        parts.append(f"only port {ports} is asked for" if len(auto.ports) == 1 else f"only ports {ports} are asked for")
    parts += ["within " + hours.describe() for hours in auto.business_hours]
    text = " and ".join(parts)
    if auto.deny:
        text += " (never for " + describe_principals(auto.deny) + ")"
    return text
