"""The private parts of slack-bolt that ``bot/ackpath/lazy_listeners.py`` builds on are still there, unchanged.

Bolt has no public hook to run lazy listeners as background work after the ack, so
``bot/ackpath/lazy_listeners.py`` replaces the app's listener runner. A Bolt release may rename any of these;
this test then fails and names what moved, instead of lazy listeners silently running the default way (or not at
all).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest
from slack_bolt.async_app import AsyncApp
from slack_bolt.lazy_listener import async_internals
from slack_bolt.listener.asyncio_runner import AsyncioListenerRunner
from slack_bolt.util import utils

from bot.ackpath.background import BackgroundWork
from bot.ackpath.lazy_listeners import AckFirstListenerRunner, run_lazy_listeners_ack_first

MOVED = (
    "slack-bolt changed a private member bot/ackpath/lazy_listeners.py relies on: {what}. "
    "Adapt bot/ackpath/lazy_listeners.py to the new Bolt."
)


def parameters(function: Callable[..., Any]) -> list[str]:
    return list(inspect.signature(function).parameters)


def require(condition: bool, what: str) -> None:
    if not condition:
        pytest.fail(MOVED.format(what=what))


def test_the_listener_runner_hooks_keep_their_names_and_parameters() -> None:
    runner = AsyncioListenerRunner
    require(
        parameters(getattr(runner, "_start_lazy_function", lambda: None)) == ["self", "lazy_func", "request"],
        "AsyncioListenerRunner._start_lazy_function(self, lazy_func, request)",
    )
    require(
        parameters(getattr(runner, "_build_lazy_request", lambda: None)) == ["self", "request", "lazy_func_name"],
        "AsyncioListenerRunner._build_lazy_request(self, request, lazy_func_name)",
    )
    require(
        "self._start_lazy_function(" in inspect.getsource(runner),
        "AsyncioListenerRunner.run no longer starts lazy listeners through self._start_lazy_function",
    )
    require(
        parameters(runner.__init__)
        == [
            "self",
            "logger",
            "process_before_response",
            "listener_error_handler",
            "listener_start_handler",
            "listener_completion_handler",
            "lazy_listener_runner",
        ],
        "AsyncioListenerRunner.__init__(logger, process_before_response, listener_error_handler, "
        "listener_start_handler, listener_completion_handler, lazy_listener_runner)",
    )


def test_the_lazy_helpers_keep_their_names_and_parameters() -> None:
    to_runnable = getattr(async_internals, "to_runnable_function", None)
    require(
        to_runnable is not None and parameters(to_runnable) == ["internal_func", "logger", "request"],
        "slack_bolt.lazy_listener.async_internals.to_runnable_function(internal_func, logger, request)",
    )
    require(callable(getattr(utils, "get_name_for_callable", None)), "slack_bolt.util.utils.get_name_for_callable")


def test_the_app_dispatches_through_the_runner_that_lazy_swaps_in() -> None:
    app = AsyncApp(token="xoxb-test", signing_secret="secret")
    require(
        isinstance(getattr(app, "_async_listener_runner", None), AsyncioListenerRunner),
        "AsyncApp._async_listener_runner (an AsyncioListenerRunner)",
    )
    require(
        "self._async_listener_runner.run(" in inspect.getsource(AsyncApp),
        "AsyncApp no longer runs listeners through self._async_listener_runner.run",
    )
    run_lazy_listeners_ack_first(app, set(), BackgroundWork())
    swapped = app._async_listener_runner
    assert isinstance(swapped, AckFirstListenerRunner)
    for name in ("logger", "process_before_response", "listener_error_handler", "lazy_listener_runner"):
        require(hasattr(swapped, name), f"AsyncioListenerRunner.{name}")
