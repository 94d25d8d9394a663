"""Bolt's lazy listeners, run as tracked background work after the ack.

Tracked: a graceful shutdown waits for work that was already acked. Background work: a listener starts only
when no Slack request is being answered (``bot.ackpath.background``), and Bolt's deep copy of the request
for it is made then too, never on the ack path. Safe: it starts only once the replay check that ran
alongside the ack said the request is new (``bot.ackpath.verify.first_sighting``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.lazy_listener.async_internals import to_runnable_function
from slack_bolt.listener.asyncio_runner import AsyncioListenerRunner
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.util.utils import get_name_for_callable

from bot.ackpath.background import BackgroundWork
from bot.ackpath.verify import confirmed_first, first_sighting

LazyJob = Callable[[], Awaitable[None]]

# Set by a dispatch that already runs as background work after the ack (``bot.ackpath.endpoint``'s fast ack):
# the lazy listeners it starts are collected here and run by that dispatch in the same job, instead of
# queueing behind every other waiting job while holding a copy of their request.
collected_lazy_jobs: ContextVar[list[LazyJob] | None] = ContextVar("jitbot_collected_lazy_jobs", default=None)


class AckFirstListenerRunner(AsyncioListenerRunner):
    """Bolt's listener runner, except that each lazy listener is copied and run as background work, and tracked."""

    def __init__(self, base: AsyncioListenerRunner, tasks: set[asyncio.Task[Any]], background_work: BackgroundWork):
        super().__init__(
            logger=base.logger,
            process_before_response=base.process_before_response,
            listener_error_handler=base.listener_error_handler,
            listener_start_handler=base.listener_start_handler,
            listener_completion_handler=base.listener_completion_handler,
            lazy_listener_runner=base.lazy_listener_runner,
        )
        self.tasks = tasks
        self.background_work = background_work

    def _start_lazy_function(self, lazy_func: Callable[..., Awaitable[None]], request: AsyncBoltRequest) -> None:
        """Start the listener after the ack, as Bolt does, but copy the request only when its work starts."""
        name = get_name_for_callable(lazy_func)

        async def run() -> None:
            copied = self._build_lazy_request(request, name)
            await to_runnable_function(internal_func=lazy_func, logger=self.logger, request=copied)

        collected = collected_lazy_jobs.get()
        if collected is not None:
            collected.append(run)
            return
        verdict = first_sighting.get()

        async def when_confirmed_new() -> None:
            if not await confirmed_first(verdict):
                return
            async with self.background_work.run_later():
                await run()

        task = asyncio.ensure_future(when_confirmed_new())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


def run_lazy_listeners_ack_first(app: AsyncApp, tasks: set[asyncio.Task[Any]], background_work: BackgroundWork) -> None:
    """Swap Bolt's listener runner for ``AckFirstListenerRunner`` (Bolt has no public hook for this)."""
    app._async_listener_runner = AckFirstListenerRunner(app._async_listener_runner, tasks, background_work)


async def wait_for_tasks(tasks: set[asyncio.Task[Any]], seconds: float) -> int:
    """Wait up to ``seconds`` for the tasks; returns how many were still running at the start."""
    pending = [task for task in tasks if not task.done()]
    if pending:
        await asyncio.wait(pending, timeout=seconds)
    return len(pending)
