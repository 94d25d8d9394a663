"""Sandbox time: the wall clock plus however far the page has fast-forwarded it.

Why: a JIT window lasts at least five minutes and reminders come minutes before its end, so nobody would
watch the whole request → grant → remind → expire flow in real time. The bot, its scheduler and the Azure
emulator share this clock; the page moves it forward and time keeps running from there.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class SandboxClock:
    """A clock that runs with the wall clock and can be moved forward (never back)."""

    def __init__(self) -> None:
        self._offset = timedelta(0)

    def now(self) -> datetime:
        """Sandbox time, timezone-aware UTC."""
        return datetime.now(UTC) + self._offset

    @property
    def offset(self) -> timedelta:
        """How far ahead of the wall clock sandbox time is."""
        return self._offset

    def advance(self, by: timedelta) -> None:
        """Jump forward; a negative jump is refused because leases, audit ids and windows assume time only grows."""
        if by < timedelta(0):
            raise ValueError("sandbox time only moves forward")
        self._offset += by
