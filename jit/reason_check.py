"""The reason a rule asks for: present when ``reason_required``, mentioning a ticket when ``ticket_pattern`` is set
(break-glass requests are exempt from the ticket, not from the reason).

A refusal suggests the same request with the reason completed, never replaced: a missing ticket is put in front of
what the person wrote, and only an example ticket that the rule's pattern finds is offered (a made-up id the rule
would refuse is worse than none, so then the refusal says what to add instead).
"""

from __future__ import annotations

import re
from dataclasses import replace

from jit.errors import RequestRejected
from jit.hints import RequestHint
from jit.routing import Route

EXAMPLE_REASON = "fixing deploy"
EXAMPLE_TICKETS = ("INC-1234", "INC1234", "CHG-1234", "CHG0012345", "OPS-1234", "JIRA-1234", "#1234", "1234")


def check_reason(route: Route, label: str, asked: RequestHint) -> None:
    """Raise RequestRejected when ``asked`` lacks the reason or ticket ``route`` wants; the hint completes it."""
    reason = asked.reason.strip()
    wants_ticket = bool(route.ticket_pattern) and not asked.break_glass
    if route.reason_required and not reason:
        completed = _with_ticket(route, EXAMPLE_REASON) if wants_ticket else EXAMPLE_REASON
        if completed is None:
            raise RequestRejected(
                f"A reason mentioning a ticket matching `{route.ticket_pattern}` is required for `{label}`."
            )
        raise RequestRejected(f"A reason is required for `{label}`.", replace(asked, reason=completed))
    if wants_ticket and route.ticket_pattern and not _finds(route.ticket_pattern, asked.reason):
        problem = f"The reason for `{label}` must mention a ticket matching `{route.ticket_pattern}`."
        completed = _with_ticket(route, reason or EXAMPLE_REASON)
        if completed is None:
            raise RequestRejected(problem + " Add yours to the reason and ask again.")
        raise RequestRejected(problem, replace(asked, reason=completed))


def example_ticket(pattern: str) -> str | None:
    """A ticket id that ``pattern`` finds, to show in a suggestion; None when none of the usual shapes does."""
    return next((ticket for ticket in EXAMPLE_TICKETS if _finds(pattern, ticket)), None)


def _with_ticket(route: Route, reason: str) -> str | None:
    """``reason`` with an example ticket in front, when the rule's pattern then finds one."""
    pattern = route.ticket_pattern
    if not pattern or _finds(pattern, reason):
        return reason
    ticket = example_ticket(pattern)
    completed = f"{ticket} {reason}" if ticket is not None else ""
    return completed if _finds(pattern, completed) else None


def _finds(pattern: str, text: str) -> bool:
    try:
        return re.search(pattern, text) is not None
    except re.error:
        return False
