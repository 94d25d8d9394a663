"""Where requests, the schedule and the locks live: the Redis adapters in ``jit.store`` implement these.

The use cases depend on these protocols only, so they run as well on an in-memory double (the unit tests) as
on Redis; a contract test runs the same checks against both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from jit.model import AccessRequest, RequestState


class LockBusy(Exception):
    """Someone else held the lock for longer than we were willing to wait."""

    def __init__(self, name: str):
        self.name = name
        super().__init__(f"lock {name!r} is busy")


class RequestNotFound(LookupError):
    """No request with that id (never created, or expired after its retention period)."""

    def __init__(self, request_id: str):
        self.request_id = request_id
        super().__init__(f"no request {request_id!r}")


class TooManyPending(Exception):
    """The requester already has as many pending requests as allowed."""

    def __init__(self, count: int, limit: int):
        self.count = count
        self.limit = limit
        super().__init__(f"{count} requests already pending (limit {limit})")


@dataclass(frozen=True)
class CreateResult:
    """The request the user now has: a new one, or the pending one the same command already made."""

    request: AccessRequest
    created: bool


@dataclass(frozen=True)
class TransitionResult:
    """Outcome of a state move. When ``ok`` is False nothing was written and ``request`` is the current one."""

    ok: bool
    request: AccessRequest
    previous: RequestState


@dataclass(frozen=True)
class UpdateResult:
    """Outcome of a field update: ``ok`` False means the state was not one of ``expect_states``.

    ``changed`` False means there was nothing to write (every appended value was already there).
    """

    ok: bool
    changed: bool
    request: AccessRequest


class RequestRecords(Protocol):
    """Requests, each change atomic with its audit record and its schedule changes (``jit.store.requests``)."""

    async def create(
        self,
        request: AccessRequest,
        *,
        dedupe_key: str,
        max_pending_per_user: int,
        schedule: Mapping[str, datetime] | None = None,
        audit: Mapping[str, str] | None = None,
    ) -> CreateResult:
        """Store a new pending request unless the same command already made one (raises TooManyPending)."""
        ...

    async def get(self, request_id: str) -> AccessRequest | None:
        """The request, or None when unknown or expired."""
        ...

    async def require(self, request_id: str) -> AccessRequest:
        """The request; raises UnknownRequest when there is none."""
        ...

    async def get_many(self, request_ids: Iterable[str]) -> dict[str, AccessRequest]:
        """The requests that exist among ``request_ids``, by id."""
        ...

    async def transition(
        self,
        request_id: str,
        to: RequestState,
        *,
        actor: str,
        fields: Mapping[str, object] | None = None,
        schedule: Mapping[str, datetime] | None = None,
        unschedule: Iterable[str] = (),
        audit: Mapping[str, str] | None = None,
        expect_fields: Mapping[str, object] | None = None,
    ) -> TransitionResult:
        """Move the request to ``to`` if ``jit.states`` allows it and ``expect_fields`` hold; the move also
        unschedules the request's items it leaves without work (``jit.schedule_items.pointless_items``)."""
        ...

    async def update_fields(
        self,
        request_id: str,
        fields: Mapping[str, object],
        *,
        actor: str,
        event: str,
        audit: Mapping[str, str] | None = None,
        expect_states: Iterable[RequestState] | None = None,
        append: Mapping[str, str] | None = None,
        schedule: Mapping[str, datetime] | None = None,
        unschedule: Iterable[str] = (),
        expect_fields: Mapping[str, object] | None = None,
    ) -> UpdateResult:
        """Change fields without a state move if ``expect_states`` and ``expect_fields`` hold."""
        ...

    async def record(
        self, event: str, *, actor: str, request_id: str | None, detail: Mapping[str, str] | None = None
    ) -> str:
        """Append an audit-only event; returns its id."""
        ...

    async def by_state(self, state: RequestState) -> list[AccessRequest]:
        """Every request in ``state``, oldest first."""
        ...

    async def by_requester(self, user_id: str, states: Iterable[RequestState] | None = None) -> list[AccessRequest]:
        """A user's requests in ``states`` (default all), oldest first."""
        ...

    async def touched_since(self, since: datetime) -> list[AccessRequest]:
        """Every unfinished request, and every finished one that finished at or after ``since``, oldest first."""
        ...


class Timetable(Protocol):
    """Due work and "already sent" markers (``jit.store.schedule``)."""

    async def add(self, key: str, due: datetime) -> None:
        """Schedule (or move) ``key`` to ``due``."""
        ...

    async def update(self, add: Mapping[str, datetime], remove: Iterable[str] = ()) -> None:
        """Schedule and unschedule several keys at once."""
        ...

    async def ensure(self, key: str, due: datetime) -> None:
        """Schedule ``key`` unless it is already scheduled: never postpones it."""
        ...

    async def mark_done(self, key: str) -> bool:
        """Remember that the message ``key`` names went out."""
        ...

    async def is_done(self, key: str) -> bool:
        """Whether ``mark_done(key)`` happened."""
        ...

    async def first_value(self, name: str, value: str) -> str:
        """The value first stored under ``name`` (``value`` if none yet); kept for good."""
        ...


class Turns(Protocol):
    """Named locks across replicas (``jit.store.locks``)."""

    def hold(self, name: str, *, lease: timedelta = ..., wait: timedelta = ...) -> AbstractAsyncContextManager[None]:
        """Hold ``name`` for the body; raises LockBusy when it stays taken for ``wait``."""
        ...
