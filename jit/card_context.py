"""What the approval card shows beside the request itself: the VM's security context and the requester's recent
history on that VM, both taken once, when the card is first posted, and kept with the request.

The rules:

- The security context is read through ``AzureJit.security_context`` (bounded and cached by the adapter; a part
  it could not read is marked so, never raised). It is stored as a snapshot (``jit.security_snapshot``), so every
  later drawing of the card (approved, expired, revoked) shows what approvers saw when they decided.
- The requester's history counts the grants Azure opened for the same person on the same VM (any state after
  opening: active, expired, revoked, superseded) that started within ``HISTORY_WINDOW`` before the card, the
  request itself excluded; ``last_grant`` is the most recent such start, at any time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from jit.model import AccessRequest, RequestState
from jit.request_extras import Extra, extra_field
from jit.security_snapshot import decode, encode
from jit.vm_security import SecurityContext

HISTORY_WINDOW = timedelta(days=30)
GRANTED_STATES = (RequestState.ACTIVE, RequestState.EXPIRED, RequestState.REVOKED, RequestState.SUPERSEDED)
"""The states of a request Azure opened; the history reads only these (not every request a person ever made)."""


@dataclass(frozen=True)
class RequesterHistory:
    """How often this person had access to this VM lately: grants started in the window, and the latest start."""

    grants_in_window: int
    last_grant: datetime | None


def requester_history(theirs: Iterable[AccessRequest], request: AccessRequest, now: datetime) -> RequesterHistory:
    """The requester's history on ``request``'s VM from their requests (``theirs``), as of ``now``."""
    vm_id = request.vm.id.lower()
    starts = [
        other.starts_at
        for other in theirs
        if other.id != request.id and other.vm.id.lower() == vm_id and other.starts_at is not None
    ]
    recent = [start for start in starts if now - HISTORY_WINDOW <= start <= now]
    return RequesterHistory(len(recent), max(starts, default=None))


def _context_entries(security: SecurityContext, history: RequesterHistory) -> dict[Extra, str]:
    return {
        Extra.SECURITY_CONTEXT: encode(security),
        Extra.HISTORY_GRANTS: str(history.grants_in_window),
        Extra.HISTORY_LAST_GRANT: history.last_grant.isoformat() if history.last_grant else "",
    }


def card_context_extras(security: SecurityContext, history: RequesterHistory) -> dict[str, str]:
    """The request's extra entries that keep both, as ``update_fields`` takes them (``extra.<name>``)."""
    return {extra_field(name): value for name, value in _context_entries(security, history).items()}


def with_card_context(request: AccessRequest, security: SecurityContext, history: RequesterHistory) -> AccessRequest:
    """``request`` as it reads once both are kept with it (to draw the card before they are stored)."""
    entries = {name.value: value for name, value in _context_entries(security, history).items()}
    return replace(request, extra={**request.extra, **entries})


def has_card_context(request: AccessRequest) -> bool:
    """Whether the context is kept with the request (from the card's first post on, every drawing uses it)."""
    return Extra.SECURITY_CONTEXT.value in request.extra


def security_context_of(request: AccessRequest) -> SecurityContext | None:
    """The VM's security context as the card first showed it; None before, or when the snapshot is unreadable."""
    raw = request.extra.get(Extra.SECURITY_CONTEXT.value)
    return decode(raw) if raw else None


def requester_history_of(request: AccessRequest) -> RequesterHistory | None:
    """The requester's history as the card first showed it; None before it was taken."""
    extra: Mapping[str, str] = request.extra
    count = extra.get(Extra.HISTORY_GRANTS.value)
    if count is None or not count.isdigit():
        return None
    last = extra.get(Extra.HISTORY_LAST_GRANT.value) or ""
    try:
        last_grant = datetime.fromisoformat(last) if last else None
    except ValueError:
        last_grant = None
    return RequesterHistory(int(count), last_grant)
