"""The justification text jitbot sends with every initiate, and how to read the request back out of it.

Azure records jitbot's own identity as ``requestor``; the justification is where the Slack requester, the
approver, our request id and the initiate's attempt marker survive in Azure's history. The marker is fresh for
every initiate jitbot makes (a grant, an extension, keeping a colleague's window after a revoke) and is saved
with the request before the POST, so the history entry of exactly that initiate can be found after a lost
answer or a crash — never an older entry of the same request — and an entry that copies jitbot's text without
a marker jitbot issued is not mistaken for jitbot's.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

MAX_REASON_CHARS = 200
_PATTERN = re.compile(
    r"^jitbot request (?P<request_id>[A-Za-z0-9_-]+)(?: \[(?P<attempt>[0-9a-f]{8,32})\])?: "
    r"requested by (?P<requester>\S+) approved by (?P<approver>\S+)(?: - (?P<reason>.*))?$",
    re.DOTALL,
)


def new_attempt() -> str:
    """A marker for one initiate: 12 hex digits (48 random bits), unique within any VM's history."""
    return secrets.token_hex(6)


@dataclass(frozen=True)
class Justification:
    """The parts jitbot writes into Azure's ``justification`` field."""

    request_id: str
    requester: str
    approver: str
    reason: str = ""
    attempt: str | None = None

    def render(self) -> str:
        """The one-line text sent to Azure; the reason is shortened so the field stays small."""
        reason = " ".join(self.reason.split())
        if len(reason) > MAX_REASON_CHARS:
            reason = reason[: MAX_REASON_CHARS - 1] + "…"
        marker = f" [{self.attempt}]" if self.attempt else ""
        text = (
            f"jitbot request {self.request_id}{marker}: requested by {_token(self.requester)} "
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
        attempt=match["attempt"],
    )
