"""The justification text jitbot sends with every initiate, and how to read the person back out of it.

Azure records jitbot's own identity as ``requestor``; the justification is where the Slack requester,
the approver and our request id survive in Azure's history (the portal's "last user" column, and
reconciliation after a crash between Azure accepting and our state being saved).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_REASON_CHARS = 200
_PATTERN = re.compile(
    r"^jitbot request (?P<request_id>[A-Za-z0-9_-]+): requested by (?P<requester>\S+) "
    r"approved by (?P<approver>\S+)(?: - (?P<reason>.*))?$",
    re.DOTALL,
)


@dataclass(frozen=True)
class Justification:
    """The parts jitbot writes into Azure's ``justification`` field."""

    request_id: str
    requester: str
    approver: str
    reason: str = ""

    def render(self) -> str:
        """The one-line text sent to Azure; the reason is shortened so the field stays small."""
        reason = " ".join(self.reason.split())
        if len(reason) > MAX_REASON_CHARS:
            reason = reason[: MAX_REASON_CHARS - 1] + "…"
        text = (
            f"jitbot request {self.request_id}: requested by {_token(self.requester)} "
            f"approved by {_token(self.approver)}"
        )
        return f"{text} - {reason}" if reason else text


def _token(value: str) -> str:
    return "".join(value.split()) or "unknown"


def parse_justification(text: str | None) -> Justification | None:
    """Recover jitbot's parts from Azure's history; None for requests jitbot did not make."""
    if not text:
        return None
    match = _PATTERN.match(text.strip())
    if match is None:
        return None
    return Justification(
        request_id=match["request_id"],
        requester=match["requester"],
        approver=match["approver"],
        reason=match["reason"] or "",
    )
