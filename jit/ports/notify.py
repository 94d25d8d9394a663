"""How the use cases tell people things; implemented on the Slack Web API in ``bot``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

from jit.model import AccessRequest, EscalatedCopies, OutsideAccess


class ChannelBusy(Exception):
    """The channel is at Slack's posting rate: this message has its turn at ``turn``. The scheduler holds the item and
    runs it again then, without counting a failure (``jit.scheduler``)."""

    def __init__(self, turn: datetime):
        super().__init__(f"the channel's next free turn is at {turn.isoformat()}")
        self.turn = turn


class Notifier(Protocol):
    """How the use cases tell people things. Implemented on the Slack Web API in ``bot``.

    Every method may be called more than once for the same event (at-least-once delivery after a crash),
    so implementations render from the request's current state and never assume they run once.
    """

    async def post_card(self, request: AccessRequest) -> str:
        """Post the approval card to ``request.card_channel``; returns the message ts for later updates."""
        ...

    async def update_card(self, request: AccessRequest) -> None:
        """Re-render the card for the request's current state (buttons removed once decided)."""
        ...

    async def tell_requester(self, request: AccessRequest) -> list[str]:
        """DM the requester the outcome for the current state: connection details, denial, failure…; returns the
        references of the posts that carry buttons for this request (empty when none)."""
        ...

    async def reminder(self, request: AccessRequest) -> list[str]:
        """Access closes soon: DM the requester and post to the on-call channel; returns the references of the
        posts that carry buttons."""
        ...

    async def retire_buttons(self, request: AccessRequest, references: Sequence[str]) -> None:
        """Access has ended: re-render each post named by ``references`` for the current state, with no buttons."""
        ...

    async def expired(self, request: AccessRequest) -> None:
        """Access has closed: DM the requester and post to the on-call channel."""
        ...


class LifecycleNotifier(Protocol):
    """What the lifecycle tells people beyond one request's outcome. Implemented on the Slack Web API in ``bot``.

    Like Notifier, every method renders from the request's current state and may run more than once. Messages
    that are updated later are named by a ``"<channel> <ts>"`` reference, which the use cases store.
    """

    async def extension_card(self, request: AccessRequest) -> str:
        """Post the card for the request's latest extension, or re-render it when posted; returns its reference."""
        ...

    async def extension_outcome(self, request: AccessRequest) -> None:
        """DM the requester that an extension was denied, timed out or failed (granted: see Notifier)."""
        ...

    async def nudge_approvers(self, request: AccessRequest, waited: timedelta) -> None:
        """Remind the approvers, in the card's thread, that the request still waits."""
        ...

    async def nudge_withdrawn(self, request: AccessRequest) -> None:
        """The request was decided: its reminder will not be sent, so it gives up any turn it waits for in the
        channel (a turn nobody takes would hold back every card behind it)."""
        ...

    async def escalate(self, request: AccessRequest, deciders: Sequence[str]) -> EscalatedCopies:
        """Post the escalated copy of the card where the escalation goes, without decision buttons (the requester
        and bystanders look there too), and DM the card with its buttons to each of ``deciders``."""
        ...

    async def update_copy(self, request: AccessRequest, posted: EscalatedCopies) -> None:
        """Re-render the escalated copies (channel and DMs) for the request's current state."""
        ...

    async def break_glass(self, request: AccessRequest) -> list[str]:
        """Announce break-glass access loudly to approvers and on-call; returns the posts' references."""
        ...

    async def review_overdue(self, request: AccessRequest, round_number: int) -> list[str]:
        """Nobody has reviewed a break-glass grant in time: escalate again; returns the posts' references (their
        review button goes once it is reviewed)."""
        ...

    async def review_done(self, request: AccessRequest, announcements: Sequence[str], reminders: Sequence[str]) -> None:
        """Show on the break-glass announcements who reviewed it (and remove their buttons)."""
        ...

    async def revoked(self, request: AccessRequest) -> None:
        """Access was closed early: tell on-call who closed what."""
        ...

    async def superseded(self, request: AccessRequest) -> None:
        """A newer grant from another source took every port of this one: tell on-call."""
        ...

    async def ports_lost(self, request: AccessRequest) -> None:
        """A newer grant took some of this grant's ports: tell the holder which closed and which stay open."""
        ...

    async def outside_closed(self, request: AccessRequest) -> None:
        """This grant closed access someone had opened outside jitbot: tell on-call whose."""
        ...

    async def outside_access(self, sighting: OutsideAccess) -> None:
        """A port on a VM jitbot watches was opened outside jitbot: tell on-call who, what, from where, until."""
        ...
