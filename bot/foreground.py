"""Acks first: work Slack is not waiting on gives way to requests it is waiting on.

Why: the ack of a command, click or submission must reach Slack within 3 seconds, while the work behind it
(the checks, the request in Redis, the reply, the approval card) only has to follow soon after. Both share
one event loop, and asyncio runs whatever is ready in turn, so in a burst of commands each ack used to wait
behind the work of every command acked before it. Background work now *starts* only when no Slack request
is being answered, or once it has waited ``max_defer`` seconds, whichever is first, and at most
``max_running`` jobs run at once (the rest wait in arrival order, holding little memory). A burst is acked
at close to the speed of a bare Bolt app, its work follows in arrival order, and the total time to finish
the burst is the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator

DEFAULT_MAX_DEFER = 1.0
DEFAULT_MAX_RUNNING = 64  # as many as Redis connections in the pool (jit/redis_connect.py)


class Foreground:
    """Counts Slack requests being answered and lets background work run in turn around them."""

    def __init__(
        self,
        max_defer: float = DEFAULT_MAX_DEFER,
        max_running: int = DEFAULT_MAX_RUNNING,
        on_deferred: Callable[[], None] | None = None,
    ):
        self.max_defer = max_defer
        self.max_running = max_running
        self.on_deferred = on_deferred
        self.deferred = 0
        self._answering = 0
        self._running = 0
        self._changed = asyncio.Event()
        self._waiting: deque[tuple[float, asyncio.Future[None]]] = deque()
        self._dispatcher: asyncio.Task[None] | None = None

    @property
    def waiting(self) -> int:
        """Background jobs waiting for their turn (for metrics and tests)."""
        return len(self._waiting)

    @property
    def running(self) -> int:
        """Background jobs running now."""
        return self._running

    @contextlib.contextmanager
    def answering(self) -> Iterator[None]:
        """Wrap the handling of one request Slack is waiting on."""
        self._answering += 1
        try:
            yield
        finally:
            self._answering -= 1
            if self._answering == 0:
                self._changed.set()

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Run the body as background work: at once when nothing is being answered or waiting, else in turn."""
        dispatching = self._dispatcher is not None and not self._dispatcher.done()
        if self._answering or dispatching or self._running >= self.max_running:
            await self._wait(dispatching)
        self._running += 1
        try:
            yield
        finally:
            self._running -= 1
            self._changed.set()

    async def _wait(self, dispatching: bool) -> None:
        self.deferred += 1
        if self.on_deferred is not None:
            self.on_deferred()
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((time.monotonic(), future))
        if not dispatching:
            self._dispatcher = asyncio.create_task(self._dispatch(), name="jitbot-foreground")
        await future

    async def _dispatch(self) -> None:
        """Release waiting jobs oldest first, one per loop pass, when idle (or waited too long) and below the cap."""
        while self._waiting:
            queued_at, future = self._waiting[0]
            if future.done():  # its job was cancelled while waiting
                self._waiting.popleft()
                continue
            if self._running >= self.max_running or self._answering:
                patience = None
                if self._running < self.max_running:
                    patience = queued_at + self.max_defer - time.monotonic()
                if patience is None or patience > 0:
                    self._changed.clear()
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(patience):
                            await self._changed.wait()
                    continue
            self._waiting.popleft()
            future.set_result(None)
            await asyncio.sleep(0)  # the released job resumes (and counts as running) before the next check
