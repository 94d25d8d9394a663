"""A change counter the page listens to over Server-Sent Events.

Why: the page must update the moment the bot posts, edits or opens something and the moment an NSG rule
appears or closes. Sending only "something changed (version n)" and letting each page fetch the state for
the person it shows keeps every user's ephemerals and modals on the server side of the wire.
"""

from __future__ import annotations

import asyncio
import contextlib


class ChangeFeed:
    """A version number that grows on every change, with a way to wait for the next one."""

    def __init__(self) -> None:
        self.version = 0
        self.closed = False
        self._changed = asyncio.Event()

    def bump(self) -> None:
        """Something changed: wake every waiter."""
        self.version += 1
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def close(self) -> None:
        """The server is stopping: every waiter returns at once, now and later."""
        self.closed = True
        self.bump()

    async def wait_newer(self, seen: int, timeout: float) -> int:  # noqa: ASYNC109
        """The current version once it differs from ``seen``, or after ``timeout`` seconds, whichever is first."""
        if self.version != seen or self.closed:
            return self.version
        changed = self._changed
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await changed.wait()
        return self.version
