"""A wall clock shifted by an offset kept in a file, so tests can move time for a bot in another process.

Why: crash and outage tests run ``jitbot serve`` as a real child process (so it can be killed with
SIGKILL), yet reminders and expiry are minutes or hours away. The test and the child both read the same
offset file; the test moves time forward by rewriting it. Time still flows in real seconds between jumps,
so leases, sleeps and timeouts behave as in production. Production never sets ``JITBOT_TEST_CLOCK_FILE``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

from jit.clock import Clock, SystemClock

CLOCK_FILE_VARIABLE = "JITBOT_TEST_CLOCK_FILE"


class OffsetFileClock:
    """``now()`` is the real UTC time plus the seconds written in ``path`` (0 when the file is empty or missing)."""

    def __init__(self, path: Path):
        self.path = path

    def offset(self) -> timedelta:
        """The current shift from the real clock."""
        try:
            text = self.path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            return timedelta(0)
        return timedelta(seconds=float(text)) if text else timedelta(0)

    def now(self) -> datetime:
        """Real time plus the offset, timezone-aware UTC."""
        return datetime.now(UTC) + self.offset()

    def advance(self, by: timedelta) -> None:
        """Move time forward for every process reading this file (atomic replace, never a torn read)."""
        seconds = (self.offset() + by).total_seconds()
        scratch = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        scratch.write_text(repr(seconds), encoding="ascii")
        scratch.replace(self.path)


def clock_from_environment(environ: Mapping[str, str]) -> Clock:
    """The wall clock, or an OffsetFileClock when a test opted in with ``JITBOT_TEST_CLOCK_FILE``."""
    path = environ.get(CLOCK_FILE_VARIABLE, "").strip()
    return OffsetFileClock(Path(path)) if path else SystemClock()
