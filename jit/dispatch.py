"""Which use case runs when a schedule item falls due: exactly one handler per ``Kind``, checked when built."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable

from jit.model import AccessRequest
from jit.ports.records import RequestRecords
from jit.schedule_items import SYNC_ITEM, Kind, parse_item

log = logging.getLogger(__name__)

Handler = Callable[[AccessRequest], Awaitable[None]]


class IncompleteDispatch(Exception):
    """A schedule kind has no handler, or more than one (a wiring bug: jitbot refuses to start)."""


class Dispatch:
    """Runs one due item: the periodic sync, or the handler of its kind with the request as it is now."""

    def __init__(
        self, handlers: Iterable[tuple[Kind, Handler]], store: RequestRecords, sync: Callable[[], Awaitable[object]]
    ):
        pairs = list(handlers)
        counts = Counter(kind for kind, _ in pairs)
        missing = sorted(kind.value for kind in Kind if kind not in counts)
        doubled = sorted(kind.value for kind, n in counts.items() if n > 1)
        if missing or doubled:
            raise IncompleteDispatch(f"schedule kinds without a handler: {missing}; with several: {doubled}")
        self.handlers: dict[Kind, Handler] = dict(pairs)
        self.store = store
        self.sync = sync

    async def handle(self, key: str) -> None:
        """Run the item ``key``; safe to run again for the same key (at-least-once delivery)."""
        if key == SYNC_ITEM:
            await self.sync()
            return
        parsed = parse_item(key)
        if parsed is None:
            log.warning("schedule.unknown_item", extra={"key": key})
            return
        kind, request_id = parsed
        request = await self.store.get(request_id)
        if request is None:
            log.warning("schedule.unknown_request", extra={"request_id": request_id})
            return
        await self.handlers[kind](request)
