"""Acks first: work Slack is not waiting on gives way to requests it is waiting on.

Why: the ack of a command, click or submission must reach Slack within 3 seconds, while the work behind it
(the checks, the request in Redis, the reply, the approval card) only has to follow soon after. Both share
one event loop, and asyncio runs whatever is ready in turn, so in a burst of commands each ack used to wait
behind the work of every command acked before it. Background work now *starts* only when no Slack request
is being answered, or once it has waited ``max_defer`` seconds, whichever is first; work that has started
runs on as before. A burst is acked at close to the speed of a bare Bolt app, its work follows in arrival
order, and the total time to finish the burst is the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Iterator

DEFAULT_MAX_DEFER = 1.0


class Foreground:
    """Counts Slack requests being answered and lets background work start in turn around them."""

    def __init__(self, max_defer: float = DEFAULT_MAX_DEFER, on_deferred: Callable[[], None] | None = None):
        self.max_defer = max_defer
        self.on_deferred = on_deferred
        self._answering = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._waiting: deque[tuple[float, asyncio.Future[None]]] = deque()
        self._dispatcher: asyncio.Task[None] | None = None
        self.deferred = 0

    @property
    def waiting(self) -> int:
        """Background jobs waiting for their turn (for metrics and tests)."""
        return len(self._waiting)

    @contextlib.contextmanager
    def answering(self) -> Iterator[None]:
        """Wrap the handling of one request Slack is waiting on."""
        self._answering += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._answering -= 1
            if self._answering == 0:
                self._idle.set()

    async def turn(self) -> None:
        """Return when background work may start: at once when nothing is being answered and nobody waits."""
        dispatching = self._dispatcher is not None and not self._dispatcher.done()
        if self._answering == 0 and not dispatching:
            return
        self.deferred += 1
        if self.on_deferred is not None:
            self.on_deferred()
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((time.monotonic(), future))
        if not dispatching:
            self._dispatcher = asyncio.create_task(self._dispatch(), name="jitbot-foreground")
        await future

    async def _dispatch(self) -> None:
        """Release waiting jobs oldest first, one per loop pass, while idle or once they waited too long."""
        while self._waiting:
            queued_at, future = self._waiting[0]
            if self._answering:
                remaining = queued_at + self.max_defer - time.monotonic()
                if remaining > 0:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(remaining):
                            await self._idle.wait()
                    continue
            self._waiting.popleft()
            if not future.done():
                future.set_result(None)
            await asyncio.sleep(0)
