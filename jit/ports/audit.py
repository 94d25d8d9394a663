"""Writing to the audit trail from a use case that has no request to change."""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Protocol


class AuditRecorder(Protocol):
    """``RequestStore.record``: appends one audit-only event (a refusal, a decision left to a person)."""

    def __call__(
        self, event: str, *, actor: str, request_id: str | None, detail: Mapping[str, str] | None = None
    ) -> Awaitable[object]:
        """Append ``event`` to the audit trail."""
        ...
