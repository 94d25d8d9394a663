"""How the holders of a port are written down: the snapshot a request keeps for its approval card, and the
sentence a refusal uses.

The snapshot is taken when the request is made (from cached reads) and again when a queued request waits, so
approvers see whose access approving would keep open or close; the approval itself re-reads Azure.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from jit.sharing import Holder, OpeningPlan

SHARE = "share"
CLOSE = "close"


@dataclass(frozen=True)
class HolderNote:
    """One holder as a card shows it: ``slack`` tells whether ``who`` is a Slack user id (a jitbot grant)."""

    effect: str
    port: int
    who: str
    slack: bool
    source: str
    until: datetime


def holders_json(plan: OpeningPlan) -> str:
    """The snapshot stored with a request: holders it shares a window with, and holders it would close."""
    notes = [_note(SHARE, h) for h in plan.sharing] + [_note(CLOSE, h) for h in plan.displaced]
    return json.dumps(notes, separators=(",", ":"))


def _note(effect: str, holder: Holder) -> dict[str, object]:
    return {
        "effect": effect,
        "port": holder.port,
        "who": holder.who,
        "slack": holder.request is not None,
        "source": holder.source,
        "until": holder.end.isoformat(),
    }


def read_notes(raw: str) -> list[HolderNote]:
    """The snapshot back as notes; an unreadable snapshot reads as none."""
    try:
        loaded = json.loads(raw) if raw else []
        return [
            HolderNote(
                str(item["effect"]),
                int(item["port"]),
                str(item["who"]),
                bool(item["slack"]),
                str(item["source"]),
                datetime.fromisoformat(str(item["until"])),
            )
            for item in loaded
        ]
    except (ValueError, KeyError, TypeError):
        return []


def conflict_text(displaced: Sequence[Holder]) -> str:
    """``Port 22 is in use by U1ALICE from 203.0.113.10 until 14:30 UTC.`` for every displaced holder."""
    parts = [
        f"port {h.port} is in use by {h.who} from {h.source} until {h.end:%H:%M} UTC ({h.end:%Y-%m-%d})"
        for h in displaced
    ]
    text = "; ".join(dict.fromkeys(parts))
    return text[:1].upper() + text[1:] + "." if text else ""
