"""The Azure and Slack emulators with a stopwatch: when each request arrived and how long the emulator spent.

Why: the approval latency is "click sent → initiate received by ARM", and it must not include the time the
emulators themselves spend answering the calls the bot makes on the way (tokens, group lookups, ...). The
emulators run in the benchmark process, so their busy intervals share the benchmark's clock.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable

from aiohttp import web

from jit.clock import Clock
from sandbox.arm import ArmEmulator
from sandbox.arm_inventory import Inventory
from sandbox.slack import SlackEmulator
from sandbox.slack_state import Call, EventKind, SlackEvent
from sandbox.slack_workspace import Workspace

Interval = tuple[float, float]


class TimedArm(ArmEmulator):
    """The ARM emulator, recording each request's busy interval and when each ``initiate`` arrived."""

    def __init__(self, inventory: Inventory, clock: Clock | None = None):
        super().__init__(inventory, clock)
        self.busy: list[Interval] = []
        self.initiate_arrivals: list[float] = []

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        if request.method == "POST" and request.path.rstrip("/").endswith("/initiate"):
            self.initiate_arrivals.append(started)
        try:
            return await super()._dispatch(request)
        finally:
            self.busy.append((started, time.perf_counter()))

    async def _identity(self, request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        try:
            return await super()._identity(request)
        finally:
            self.busy.append((started, time.perf_counter()))

    def initiate_after(self, moment: float) -> float | None:
        """When the first ``initiate`` at or after ``moment`` (perf_counter) arrived; None if none did."""
        return next((t for t in self.initiate_arrivals if t >= moment), None)


class TimedSlack(SlackEmulator):
    """The Slack emulator, recording busy intervals, calls per method (``response_url`` too) and the client
    connections it accepted (``connections``; a reused port is a new connection when its transport is new).

    chat.postMessage's posting limit starts lifted: every scenario but the burst measures the bots, and thousands of
    cards in one channel would only measure Slack's limit; the burst turns it on for its run."""

    def __init__(self, workspace: Workspace | None = None):
        super().__init__(workspace, response_url_ttl=3600.0)
        self.posting_limit_on = False
        self.busy: list[Interval] = []
        self.counts: Counter[str] = Counter()
        self.connections = 0
        self.timed: list[tuple[float, Call]] = []
        self.replies: dict[str, float] = {}
        self._latest: dict[object, object] = {}
        self.subscribe(self._count)

    def _count(self, event: SlackEvent) -> None:
        if event.kind is EventKind.API_CALL and event.call is not None:
            self.counts[event.call.method] += 1
            self.timed.append((time.perf_counter(), event.call))

    def _note_peer(self, request: web.Request) -> None:
        transport = request.transport
        if transport is None:
            return
        peer = transport.get_extra_info("peername")
        if self._latest.get(peer) is not transport:
            self._latest[peer] = transport
            self.connections += 1

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        self._note_peer(request)
        try:
            return await super()._handle_api(request)
        finally:
            self.busy.append((started, time.perf_counter()))

    async def _handle_response_url(self, request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        self._note_peer(request)
        try:
            return await super()._handle_response_url(request)
        finally:
            self.replies.setdefault(request.match_info["token"], time.perf_counter())
            self.busy.append((started, time.perf_counter()))

    def posts_in(self, channel: str, since: float = 0.0) -> list[tuple[float, Call]]:
        """Successful chat.postMessage calls to ``channel`` after ``since`` (perf_counter), with their arrival."""
        return [
            (at, call)
            for at, call in self.timed
            if at >= since
            and call.method == "chat.postMessage"
            and call.status == 200
            and call.args.get("channel") == channel
        ]

    async def wait_counts(self, wanted: dict[str, int], timeout: float) -> bool:  # noqa: ASYNC109
        """Wait until every method in ``wanted`` was called at least that often; False on timeout."""
        return await poll(lambda: all(self.counts[m] >= n for m, n in wanted.items()), timeout)


async def poll(condition: Callable[[], bool], timeout: float, interval: float = 0.02) -> bool:  # noqa: ASYNC109
    """Check ``condition`` every ``interval`` seconds until it holds (True) or ``timeout`` passes (False)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(interval)
    return True
