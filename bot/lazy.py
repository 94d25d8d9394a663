"""Bolt's lazy listeners, but remembered and polite.

Remembered: a graceful shutdown waits for work that was already acked. Polite: the work waits for its turn
behind acks Slack is still waiting on (``bot.foreground``), and so does Bolt's deep copy of the request for
the listener, which used to be the largest part of every ack's CPU time. Safe: it starts only once the
replay check that ran alongside the ack said the request is new (``bot.replay.first_sighting``).
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

from bot.foreground import Foreground
from bot.replay import confirmed_first, first_sighting

LazyJob = Callable[[], Awaitable[None]]

# Set by a dispatch that already runs in its turn after the ack (``bot.server``'s fast path): the lazy
# listeners it starts are collected here and run by that dispatch in the same turn, instead of queueing
# behind every other deferred job while holding a copy of their request.
inline_lazy: ContextVar[list[LazyJob] | None] = ContextVar("jitbot_inline_lazy", default=None)


class AckFirstListenerRunner(AsyncioListenerRunner):
    """Bolt's listener runner, except that each lazy listener is copied and run in its turn, and tracked."""

    def __init__(self, base: AsyncioListenerRunner, tasks: set[asyncio.Task[Any]], foreground: Foreground):
        super().__init__(
            logger=base.logger,
            process_before_response=base.process_before_response,
            listener_error_handler=base.listener_error_handler,
            listener_start_handler=base.listener_start_handler,
            listener_completion_handler=base.listener_completion_handler,
            lazy_listener_runner=base.lazy_listener_runner,
        )
        self.tasks = tasks
        self.foreground = foreground

    def _start_lazy_function(self, lazy_func: Callable[..., Awaitable[None]], request: AsyncBoltRequest) -> None:
        """Start the listener after the ack, as Bolt does, but copy the request only once it is its turn."""
        name = get_name_for_callable(lazy_func)

        async def run() -> None:
            copied = self._build_lazy_request(request, name)
            await to_runnable_function(internal_func=lazy_func, logger=self.logger, request=copied)

        inline = inline_lazy.get()
        if inline is not None:
            inline.append(run)
            return
        verdict = first_sighting.get()

        async def in_turn() -> None:
            if not await confirmed_first(verdict):
                return
            async with self.foreground.turn():
                await run()

        task = asyncio.ensure_future(in_turn())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


def run_lazy_listeners_ack_first(app: AsyncApp, tasks: set[asyncio.Task[Any]], foreground: Foreground) -> None:
    """Swap Bolt's listener runner for ``AckFirstListenerRunner`` (Bolt has no public hook for this)."""
    app._async_listener_runner = AckFirstListenerRunner(app._async_listener_runner, tasks, foreground)


async def wait_for(tasks: set[asyncio.Task[Any]], seconds: float) -> int:
    """Wait up to ``seconds`` for the tasks; returns how many were still running at the start."""
    pending = [task for task in tasks if not task.done()]
    if pending:
        await asyncio.wait(pending, timeout=seconds)
    return len(pending)
