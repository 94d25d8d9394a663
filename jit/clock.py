"""The injectable clock: production uses the wall clock, tests move time by hand."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Anything that tells the current UTC time."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real UTC wall clock."""

    def now(self) -> datetime:
        """Current time, timezone-aware UTC."""
        return datetime.now(UTC)


@dataclass
class ManualClock:
    """A clock that only moves when told to; for tests and simulations."""

    current: datetime = field(default_factory=lambda: datetime(2026, 12, 1, 9, 0, tzinfo=UTC))

    def now(self) -> datetime:
        """The frozen current time."""
        return self.current

    def advance(self, by: timedelta) -> None:
        """Move time forward."""
        self.current += by
