"""Background work gives way to the Slack requests being answered: acks first, work after.

The ack of a command, click or submission must reach Slack within 3 seconds; the work behind it (the checks,
the request in Redis, the reply, the approval card) only has to follow soon after. Both share one event loop,
which runs whatever is ready in turn, so work that started during a burst would delay every ack behind it.
The rule: background work *starts* only when no Slack request is being answered, or once it has waited
``max_defer`` seconds, whichever is first; at most ``max_running`` jobs run at once, and the rest wait in
arrival order, holding little memory. The work itself is not slower: it runs in the gaps between answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator

DEFAULT_MAX_DEFER = 1.0
DEFAULT_MAX_RUNNING = 64  # as many as Redis connections in the pool (jit/redis_connect.py)


class BackgroundWork:
    """Counts the Slack requests being answered and starts background work when none is (``run_later``)."""

    def __init__(
        self,
        max_defer: float = DEFAULT_MAX_DEFER,
        max_running: int = DEFAULT_MAX_RUNNING,
        on_deferred: Callable[[], None] | None = None,
    ):
        self.max_defer = max_defer
        self.max_running = max_running
        self.on_deferred = on_deferred
        self._answering = 0
        self._running = 0
        self._changed = asyncio.Event()
        self._waiting: deque[tuple[float, asyncio.Future[None]]] = deque()
        self._dispatcher: asyncio.Task[None] | None = None

    @property
    def waiting(self) -> int:
        """Background jobs waiting for their turn (for metrics and tests)."""
        return len(self._waiting)

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
    async def run_later(self) -> AsyncIterator[None]:
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
        if self.on_deferred is not None:
            self.on_deferred()
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((time.monotonic(), future))
        if not dispatching:
            self._dispatcher = asyncio.create_task(self._dispatch(), name="jitbot-background-work")
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
