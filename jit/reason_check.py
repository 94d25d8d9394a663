"""The reason a rule asks for: present when ``reason_required``, mentioning a ticket when ``ticket_pattern`` is set
(break-glass requests are exempt from the ticket, not from the reason).

A refusal suggests the same request with the reason completed, never replaced: a missing ticket is put in front of
what the person wrote, and only an example ticket that matches the rule's pattern is offered.
"""

from __future__ import annotations

import re
from dataclasses import replace

from jit.errors import RequestRejected
from jit.hints import RequestHint
from jit.routing import Route

EXAMPLE_REASON = "fixing deploy"
_EXAMPLE_TICKETS = ("INC-1234", "INC1234", "CHG0012345", "JIRA-123", "OPS-123", "#1234", "1234")
_PATTERN_PIECES = (
    (r"\\d\{(\d+)\}", lambda m: "1" * int(m.group(1))),
    (r"\\d\{(\d+),\d*\}", lambda m: "1" * int(m.group(1))),
    (r"\\d[+*]?", lambda m: "1234"),
    (r"\[A-Z\](\{(\d+)\})?", lambda m: "A" * int(m.group(2) or 1)),
    (r"\\-", lambda m: "-"),
    (r"[\^$]", lambda m: ""),
    (r"\(\?[a-zA-Z]+\)", lambda m: ""),
)


def check_reason(route: Route, label: str, asked: RequestHint) -> None:
    """Raise RequestRejected when ``asked`` lacks the reason or ticket ``route`` wants; the hint completes it."""
    reason = asked.reason.strip()
    if route.reason_required and not reason:
        completed = _with_ticket(route, EXAMPLE_REASON) if not asked.break_glass else EXAMPLE_REASON
        raise RequestRejected(
            f"A reason is required for `{label}`.",
            replace(asked, reason=completed) if completed else None,
        )
    if route.ticket_pattern and not asked.break_glass and re.search(route.ticket_pattern, asked.reason) is None:
        completed = _with_ticket(route, reason or EXAMPLE_REASON)
        problem = f"The reason for `{label}` must mention a ticket matching `{route.ticket_pattern}`."
        if completed is None:
            problem += " Add your ticket's reference to your reason and ask again."
        raise RequestRejected(problem, replace(asked, reason=completed) if completed else None)


def example_ticket(pattern: str) -> str | None:
    """A ticket reference that ``pattern`` finds, for a suggested reason; None when none is known to match."""
    guesses = list(_EXAMPLE_TICKETS)
    built = pattern
    for piece, write in _PATTERN_PIECES:
        built = re.sub(piece, write, built)
    guesses.insert(0, built)
    return next((g for g in guesses if _finds(pattern, g)), None)


def _with_ticket(route: Route, reason: str) -> str | None:
    if not route.ticket_pattern or _finds(route.ticket_pattern, reason):
        return reason
    ticket = example_ticket(route.ticket_pattern)
    completed = f"{ticket} {reason}" if ticket is not None else ""
    return completed if _finds(route.ticket_pattern, completed) else None


def _finds(pattern: str, text: str) -> bool:
    try:
        return re.search(pattern, text) is not None
    except re.error:
        return False
