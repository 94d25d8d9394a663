"""Both notifier ports (``jit.ports.notify``) as one recorder: every call is kept, in order, with the request as it
was passed; methods that return a reference return a fresh one. ``fail_next`` makes a method raise once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from itertools import count

from jit.model import AccessRequest, EscalatedCopies, OutsideAccess, RequestState
from jit.review import AccessReview


@dataclass(frozen=True)
class Message:
    """One call to a notifier: which method, about which request (None for a sighting), with what else."""

    method: str
    request: AccessRequest | None
    detail: tuple[object, ...] = ()


class RecordingNotifier:
    """Implements ``Notifier`` and ``LifecycleNotifier``; references look like Slack's ``"<channel> <ts>"``."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self._ts = count(1)
        self._failures: dict[str, list[Exception]] = {}

    def fail_next(self, method: str, error: Exception) -> None:
        """The next call of ``method`` raises ``error`` (as Slack being down would) and records nothing."""
        self._failures.setdefault(method, []).append(error)

    def sent(self, method: str, request_id: str | None = None) -> list[Message]:
        """The calls of ``method`` (about ``request_id`` when given)."""
        return [
            m
            for m in self.messages
            if m.method == method and (request_id is None or (m.request is not None and m.request.id == request_id))
        ]

    def methods(self) -> list[str]:
        """Every method called, in order."""
        return [m.method for m in self.messages]

    def _record(self, method: str, request: AccessRequest | None, *detail: object) -> None:
        pending = self._failures.get(method)
        if pending:
            raise pending.pop(0)
        self.messages.append(Message(method, request, detail))

    def _reference(self, channel: str) -> str:
        return f"{channel} 1700000000.{next(self._ts):06d}"

    # -- Notifier -------------------------------------------------------------------------------------------

    async def post_card(self, request: AccessRequest) -> str:
        """Record; return a message ts."""
        self._record("post_card", request)
        return self._reference(request.card_channel or "C").split(" ", 1)[1]

    async def update_card(self, request: AccessRequest) -> None:
        """Record."""
        self._record("update_card", request)

    async def tell_requester(self, request: AccessRequest) -> list[str]:
        """Record; an open grant's DM carries buttons, so return its reference."""
        self._record("tell_requester", request)
        return [self._reference("D")] if request.state is RequestState.ACTIVE else []

    async def reminder(self, request: AccessRequest) -> list[str]:
        """Record; return the references of the DM and the on-call post (both carry buttons)."""
        self._record("reminder", request)
        return [self._reference("D"), self._reference("CONCALL")]

    async def retire_buttons(self, request: AccessRequest, references: Sequence[str]) -> None:
        """Record."""
        self._record("retire_buttons", request, tuple(references))

    async def expired(self, request: AccessRequest) -> None:
        """Record."""
        self._record("expired", request)

    # -- LifecycleNotifier ----------------------------------------------------------------------------------

    async def extension_card(self, request: AccessRequest) -> str:
        """Record; return the card's reference."""
        self._record("extension_card", request)
        return self._reference(request.card_channel or "C")

    async def extension_outcome(self, request: AccessRequest) -> None:
        """Record."""
        self._record("extension_outcome", request)

    async def nudge_approvers(self, request: AccessRequest, waited: timedelta) -> None:
        """Record with how long it waited."""
        self._record("nudge_approvers", request, waited)

    async def nudge_withdrawn(self, request: AccessRequest) -> None:
        """Record."""
        self._record("nudge_withdrawn", request)

    async def escalate(self, request: AccessRequest, deciders: Sequence[str]) -> EscalatedCopies:
        """Record with the deciders DMed; return the copies' references."""
        self._record("escalate", request, tuple(deciders))
        return EscalatedCopies(self._reference("CESCALATE"), tuple(self._reference("D" + user) for user in deciders))

    async def update_copy(self, request: AccessRequest, posted: EscalatedCopies) -> None:
        """Record with the copies' references."""
        self._record("update_copy", request, posted)

    async def break_glass(self, request: AccessRequest) -> list[str]:
        """Record; return the announcements' references."""
        self._record("break_glass", request)
        return [self._reference(request.card_channel or "C"), self._reference("CONCALL")]

    async def review_overdue(self, request: AccessRequest, round_number: int) -> list[str]:
        """Record with the round; return the reminder's reference."""
        self._record("review_overdue", request, round_number)
        return [self._reference("COVERDUE")]

    async def review_done(self, request: AccessRequest, announcements: Sequence[str], reminders: Sequence[str]) -> None:
        """Record with the announcements' and reminders' references."""
        self._record("review_done", request, tuple(announcements), tuple(reminders))

    async def revoked(self, request: AccessRequest) -> None:
        """Record."""
        self._record("revoked", request)

    async def superseded(self, request: AccessRequest) -> None:
        """Record."""
        self._record("superseded", request)

    async def ports_lost(self, request: AccessRequest) -> None:
        """Record."""
        self._record("ports_lost", request)

    async def outside_closed(self, request: AccessRequest) -> None:
        """Record."""
        self._record("outside_closed", request)

    async def outside_access(self, sighting: OutsideAccess) -> None:
        """Record the sighting."""
        self._record("outside_access", None, sighting)


@dataclass(frozen=True)
class PostedReview:
    """One access review posted: where to (a channel id, or a user id for a DM) and the review."""

    where: str
    review: AccessReview


class RecordingReviewPoster:
    """Implements ``jit.reporting.ReviewPoster``: keeps every review posted; ``fail_next`` makes the next post raise."""

    def __init__(self) -> None:
        self.posted: list[PostedReview] = []
        self._failures: list[Exception] = []

    def fail_next(self, error: Exception) -> None:
        """The next post raises ``error`` (as Slack being down would) and records nothing."""
        self._failures.append(error)

    async def post_review(self, where: str, review: AccessReview) -> None:
        """Record the review, or raise the failure a test asked for."""
        if self._failures:
            raise self._failures.pop(0)
        self.posted.append(PostedReview(where, review))
