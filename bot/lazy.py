"""Bolt's lazy listeners, but remembered: a graceful shutdown waits for work that was already acked."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from logging import Logger
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.lazy_listener.async_internals import to_runnable_function
from slack_bolt.lazy_listener.asyncio_runner import AsyncioLazyListenerRunner
from slack_bolt.request.async_request import AsyncBoltRequest


class TrackedLazyListenerRunner(AsyncioLazyListenerRunner):
    """Runs each lazy listener as a task and keeps it in ``tasks`` until it finishes."""

    def __init__(self, logger: Logger, tasks: set[asyncio.Task[Any]]):
        super().__init__(logger)
        self.tasks = tasks

    def start(self, function: Callable[..., Awaitable[None]], request: AsyncBoltRequest) -> None:
        """Start the listener after the ack, as Bolt does, and remember the task."""
        task = asyncio.ensure_future(to_runnable_function(internal_func=function, logger=self.logger, request=request))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


def track_lazy_listeners(app: AsyncApp, tasks: set[asyncio.Task[Any]]) -> None:
    """Swap Bolt's fire-and-forget lazy runner for one that records its tasks (Bolt has no public hook)."""
    runner = app._async_listener_runner
    runner.lazy_listener_runner = TrackedLazyListenerRunner(runner.logger, tasks)


async def wait_for(tasks: set[asyncio.Task[Any]], seconds: float) -> int:
    """Wait up to ``seconds`` for the tasks; returns how many were still running at the start."""
    pending = [task for task in tasks if not task.done()]
    if pending:
        await asyncio.wait(pending, timeout=seconds)
    return len(pending)
