"""Several rules applying to one VM combine into one route holding the strictest requirement of each.

The semantics (docs/lifecycle.md, "Several rules on one VM"):

- who may ask, approve or use break-glass: a person must qualify under **every** rule (``principals.intersect``;
  a rule without ``requesters`` lets everyone ask, and a rule matched by tags that names no ``approvers`` or
  ``break_glass`` leaves them as they are, so those add no condition);
- the **largest** quorum, the **shortest** ``max_duration`` and ``review_within``, a reason if any rule wants
  one, a ticket matching **every** ``ticket_pattern``, wide sources refused if any rule refuses them, and the
  most careful ``on_conflict`` (``refuse`` over ``queue`` over ``supersede``) and the strictest
  ``requester_rbac`` (``enforce`` over ``warn`` over ``off``; a rule that does not name it adds nothing);
- automatic approval only if **every** rule has ``auto_approve``, and then only inside all their limits at once:
  requesters in every list, the union of the deny lists, the shortest window, only ports every rule allows,
  inside every business-hours window (no common port: no automatic approval);
- escalation, if any rule escalates, after the **longest** of their waits, to the people who qualify under
  every rule once each rule's escalation is counted (a rule that does not escalate keeps its approvers);
- where people are told — ``approval_channel`` and ``remind_approvers`` — comes from the **baseline**: the
  first rule in the file that matched without tags, or the default route. Tags cannot move a card.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import timedelta

from jit.model import RbacMode
from jit.principals import intersect, union
from jit.routing import AutoApproval, ConflictChoice, Escalation, Route

_LEADING_FLAGS = re.compile(r"^\(\?([aiLmsux]+)\)")
_CONFLICT_CARE = (ConflictChoice.SUPERSEDE, ConflictChoice.QUEUE, ConflictChoice.REFUSE)
"""``on_conflict`` from the least to the most careful of someone else's access."""
RBAC_STRICTNESS = (RbacMode.OFF, RbacMode.WARN, RbacMode.ENFORCE)
"""``requester_rbac`` from the least to the most strict."""


def combine(baseline: Sequence[Route], tightening: Sequence[Route] = ()) -> Route:
    """One route for a VM: ``baseline`` (its scope rules in file order, or the default route) with ``tightening``
    (the rules it matched by tags) — every requirement at its strictest. A single route comes back unchanged."""
    routes = [*baseline, *tightening]
    if not baseline:
        raise ValueError("a VM always has a baseline: its scope rules or the default route")
    if len(routes) == 1:
        return routes[0]
    first = baseline[0]
    patterns = tuple(dict.fromkeys(r.ticket_pattern for r in routes if r.ticket_pattern))
    requesters = [r.requesters for r in routes if r.requesters]
    deciders = [*baseline, *(r for r in tightening if r.approvers)]
    glass = [r.break_glass for r in [*baseline, *(r for r in tightening if r.break_glass)]]
    return Route(
        name="+".join(r.name for r in routes),
        approvers=intersect([r.approvers for r in deciders]),
        approval_channel=first.approval_channel,
        requesters=intersect(requesters) if requesters else (),
        max_duration=_shortest(r.max_duration for r in routes),
        reason_required=any(r.reason_required for r in routes) or bool(patterns),
        ticket_pattern=all_patterns(patterns),
        quorum=max(r.quorum for r in routes),
        auto_approve=_auto_approval(routes),
        approver_reminders=first.approver_reminders,
        escalation=_escalation(routes, deciders),
        break_glass=intersect(glass) if all(glass) else (),
        review_within=min(r.review_within for r in routes),
        refuse_wide_sources=any(r.refuse_wide_sources for r in routes),
        on_conflict=max((r.on_conflict for r in routes), key=_CONFLICT_CARE.index),
        requester_rbac=strictest_rbac(r.requester_rbac for r in routes),
    )


def strictest_rbac(modes: Iterable[RbacMode | None]) -> RbacMode | None:
    """The strictest of the modes the rules name (``enforce`` > ``warn`` > ``off``); None when none names one."""
    named = [mode for mode in modes if mode is not None]
    return max(named, key=RBAC_STRICTNESS.index) if named else None


def all_patterns(patterns: Sequence[str]) -> str | None:
    """One regular expression that finds a match of every pattern somewhere in the text (in any order).

    Each pattern becomes a lookahead from the start; a leading ``(?i)``-style flag is kept to its own pattern.
    """
    if len(patterns) <= 1:
        return patterns[0] if patterns else None
    return "".join(rf"(?=[\s\S]*?{_scoped(p)})" for p in patterns)


def _scoped(pattern: str) -> str:
    flags = _LEADING_FLAGS.match(pattern)
    if flags is None:
        return f"(?:{pattern})"
    return f"(?{flags.group(1)}:{pattern[flags.end() :]})"


def _shortest(values: Iterable[timedelta | None]) -> timedelta | None:
    given = [v for v in values if v is not None]
    return min(given) if given else None


def _auto_approval(routes: Sequence[Route]) -> AutoApproval | None:
    autos = [r.auto_approve for r in routes]
    if any(a is None for a in autos):
        return None
    present = [a for a in autos if a is not None]
    port_lists = [a.ports for a in present if a.ports]
    ports: tuple[int, ...] = ()
    if port_lists:
        ports = tuple(p for p in port_lists[0] if all(p in other for other in port_lists[1:]))
        if not ports:
            return None
    requesters = [a.requesters for a in present if a.requesters]
    return AutoApproval(
        requesters=intersect(requesters) if requesters else (),
        deny=union(a.deny for a in present),
        max_duration=_shortest(a.max_duration for a in present),
        ports=ports,
        business_hours=tuple(dict.fromkeys(h for a in present for h in a.business_hours)),
    )


def _escalation(routes: Sequence[Route], deciders: Sequence[Route]) -> Escalation | None:
    escalating = [r for r in routes if r.escalation is not None]
    if not escalating:
        return None
    widened = [(*r.approvers, *r.escalation.approvers) if r.escalation else r.approvers for r in deciders]
    return Escalation(
        after=max(r.escalation.after for r in escalating if r.escalation),
        approvers=intersect(widened),
        channel=next((r.escalation.channel for r in escalating if r.escalation and r.escalation.channel), None),
    )
